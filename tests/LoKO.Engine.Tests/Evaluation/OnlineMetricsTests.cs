using LoKO.Engine.Evaluation;
using LoKO.Engine.Optimizers;

namespace LoKO.Engine.Tests.Evaluation;

public class OnlineMetricsTests
{
    static bool[] Seq(string s) => [.. s.Select(c => c == '1')];

    static OnlineMetrics Metrics(string correct, int window, int tail, StepStatus[]? statuses = null, double[]? ms = null, int guard = 0) =>
        OnlineMetrics.From(Seq(correct), ms ?? [.. correct.Select(_ => 1.0)], statuses ?? [.. correct.Select(_ => StepStatus.Applied)], guard,
            heldOutAccuracy: 0.25, window: window, tail: tail);

    [Fact]
    public void WindowedCurveTailAndReachOnAHandMadeSequence()
    {
        var m = Metrics("0011110100", window: 4, tail: 3);

        Assert.Equal(10, m.Examples);
        Assert.Equal(0.5, m.OnlineAccuracy, 12);
        // windows ending at examples 4 … 10
        Assert.Equal([0.5, 0.75, 1.0, 0.75, 0.75, 0.5, 0.25], m.WindowedAccuracy.Select(a => Math.Round(a, 12)));
        Assert.Equal(1.0, m.BestWindowedAccuracy, 12);
        Assert.Equal(1.0 / 3, m.TailAccuracy, 12);
        Assert.Equal(4, m.ExamplesToReach(0.5));
        Assert.Equal(5, m.ExamplesToReach(0.7));
        Assert.Equal(6, m.ExamplesToReach(1.0));
        Assert.Null(m.ExamplesToReach(1.01));
        Assert.True(m.Collapsed); // 1/3 < 0.9 × 1.0
        Assert.Equal(0.25, m.HeldOutAccuracy);
    }

    [Fact]
    public void ALevelHitExactlyCountsAsReached()
    {
        // 7 of 10 correct in the first full window: 0.7 exactly (not 0.7 − ε) at example 10.
        var m = Metrics("1111111000" + "0000000000", window: 10, tail: 10);
        Assert.Equal(10, m.ExamplesToReach(0.7));
        Assert.Null(m.ExamplesToReach(0.71));
    }

    [Fact]
    public void CollapseIsTheTailAgainstNinetyPercentOfTheBestWindow()
    {
        // Best 10-window 1.0; the last 10: 9 correct = 0.9 × best exactly, not a collapse.
        var steady = Metrics("1111111111" + "1110111111", window: 10, tail: 10);
        Assert.Equal(1.0, steady.BestWindowedAccuracy, 12);
        Assert.Equal(0.9, steady.TailAccuracy, 12);
        Assert.False(steady.Collapsed);
        // One more miss in the tail: 0.8 < 0.9.
        var fell = Metrics("1111111111" + "1100111111", window: 10, tail: 10);
        Assert.True(fell.Collapsed);
        // A run that never learned has not collapsed.
        Assert.False(Metrics("0000000000" + "0000000000", window: 10, tail: 10).Collapsed);
    }

    [Fact]
    public void AStreamShorterThanTheWindowIsOneWindowAndItsSecondHalfTheTail()
    {
        var m = Metrics("1010", window: 100, tail: 300);
        Assert.Equal(4, m.Window);
        Assert.Equal(2, m.Tail);
        Assert.Single(m.WindowedAccuracy);
        Assert.Equal(0.5, m.WindowedAccuracy[0], 12);
        Assert.Equal(4, m.ExamplesToReach(0.5));
        Assert.Equal(0.5, m.TailAccuracy, 12);
        Assert.False(m.Collapsed);

        // 250 examples, still learning: the tail is the last 125, not the whole run.
        var rising = Metrics(new string('0', 100) + string.Concat(Enumerable.Repeat("01", 25)) + new string('1', 100), window: 100, tail: 300);
        Assert.Equal(125, rising.Tail);
        // the last 125: the last 25 of the alternating block (13 correct) and 100 correct
        Assert.Equal(113 / 125.0, rising.TailAccuracy, 12);
        Assert.Equal(1.0, rising.BestWindowedAccuracy, 12);
        Assert.False(rising.Collapsed); // 0.904 ≥ 0.9 × 1.0; over the whole run (0.5) it would have read as a collapse
    }

    [Fact]
    public void CountsStatusesGuardEventsAndMeanStepTime()
    {
        var m = Metrics("1100", window: 2, tail: 2,
            statuses: [StepStatus.Deferred, StepStatus.Applied, StepStatus.Rejected, StepStatus.Rejected],
            ms: [1, 2, 3, 10], guard: 1);
        Assert.Equal(2, m.Rejected);
        Assert.Equal(1, m.Deferred);
        Assert.Equal(1, m.GuardEvents);
        Assert.Equal(4.0, m.MeanStepMs, 12);
    }

    [Fact]
    public void FromStepRecordsScoresNonFinitePredictionsAsWrongAndCountsGuardEvents()
    {
        StepRecord[] steps =
        [
            new(0, Label: 2, Predicted: 2, Loss: 0.1, StepMs: 5, StepStatus.Applied),
            new(1, Label: 1, Predicted: -1, Loss: double.NaN, StepMs: 7, StepStatus.Rejected, "the prediction is not finite"),
            new(2, Label: 0, Predicted: 0, Loss: 0.3, StepMs: 6, StepStatus.Applied, GuardEvent: "divergence: …"),
        ];
        var m = OnlineMetrics.From(steps, heldOutAccuracy: null, window: 2, tail: 2);
        Assert.Equal(2.0 / 3, m.OnlineAccuracy, 12);
        Assert.Equal([0.5, 0.5], m.WindowedAccuracy);
        Assert.Equal(1, m.Rejected);
        Assert.Equal(1, m.GuardEvents);
        Assert.Null(m.HeldOutAccuracy);
    }

    [Fact]
    public void RejectsMismatchedOrEmptyInput()
    {
        Assert.Throws<ArgumentException>(() => OnlineMetrics.From(Seq("10"), [1.0], [StepStatus.Applied, StepStatus.Applied], 0));
        Assert.Throws<ArgumentException>(() => OnlineMetrics.From([], [], [], 0));
    }
}
