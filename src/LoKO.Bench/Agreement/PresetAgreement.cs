namespace LoKO.Bench.Agreement;

/// <summary>
/// How far one preset's run on the device is from the reference run: each a max |difference| over the reference's max
/// |value| (the scale), for the forward's features, the predictions of every filter step, and θ after the last step.
/// </summary>
sealed record PresetAgreement(
    string Preset,
    string Variant,
    int Steps,
    double ForwardScale,
    double ForwardDiff,
    double PredictionDiff,
    double ThetaScale,
    double ThetaDiff,
    bool ThetaHeld,
    int AppliedCandidate,
    int AppliedReference,
    bool Pass);
