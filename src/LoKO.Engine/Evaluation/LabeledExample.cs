using LoKO.Engine.Models;

namespace LoKO.Engine.Evaluation;

/// <summary>One example of a classification stream: the raw input, its class index and that class's name.</summary>
public sealed record LabeledExample(ModelInput Input, int Label, string LabelName);
