using static TorchSharp.torch;

namespace LoKO.Engine.Onnx;

/// <summary>A small int64 value of the shape arithmetic, held in managed memory: its elements and its dims.</summary>
internal sealed record HostShape(long[] Values, long[] Dims)
{
    // Larger int64 values are data (token ids, positions), not shapes: they stay tensors.
    const int MaxElements = 64;

    /// <summary>The value of a contiguous int64 CPU tensor of at most a few elements; null for anything else.</summary>
    public static HostShape? Of(Tensor t) =>
        t.dtype == ScalarType.Int64 && t.device_type == TorchSharp.DeviceType.CPU && t.numel() <= MaxElements && t.is_contiguous()
            ? new HostShape(t.data<long>().ToArray(), t.shape) : null;

    public Tensor ToTensor() => Dims.Length == 0 ? tensor(Values[0]) : tensor(Values, Dims);
}

/// <summary>
/// The shape arithmetic exporters emit around every Reshape (Shape, Gather, Unsqueeze, Squeeze, Concat on int64
/// vectors), run in managed code: at one tensor op each, a text of a new length (a miss of the shape cache)
/// spent more on these than on its attention. Each returns null where its inputs are not what it handles
/// (another dtype or rank, an index or axis out of range), and the step's kernel runs instead, with its own
/// errors; where it answers, it answers what the kernel would.
/// </summary>
internal static class HostShapes
{
    public static bool Handles(string opType) => opType is "Shape" or "Gather" or "Unsqueeze" or "Squeeze" or "Concat";

    /// <param name="input">The host value of input i (null where absent or not a small int64 value).</param>
    /// <param name="dims">The dims of input i, of any type (Shape needs only those).</param>
    public static HostShape? Run(OnnxNode node, long opset, int inputs, Func<int, HostShape?> input, Func<int, long[]?> dims) => node.OpType switch
    {
        "Shape" when inputs == 1 && dims(0) is { } d => Shape(node, d),
        "Gather" when inputs == 2 && input(0) is { } x && input(1) is { } i => Gather(node, x, i),
        "Unsqueeze" when input(0) is { } x && Axes(node, opset, inputs, input) is { } axes => Unsqueeze(x, axes),
        "Squeeze" when input(0) is { } x => Squeeze(x, Axes(node, opset, inputs, input)),
        "Concat" when inputs > 0 => Concat(node, [.. Enumerable.Range(0, inputs).Select(input)]),
        _ => null,
    };

    static HostShape Shape(OnnxNode node, long[] dims)
    {
        long rank = dims.Length;
        long start = Ops.ShapeOps.Boundary(node.Int("start", 0), rank, clamp: true);
        long end = Ops.ShapeOps.Boundary(node.Int("end", rank), rank, clamp: true);
        long[] values = dims[(int)start..(int)Math.Max(start, end)];
        return new HostShape(values, [values.Length]);
    }

    static HostShape? Gather(OnnxNode node, HostShape x, HostShape indices)
    {
        if (x.Dims.Length != 1 || indices.Dims.Length > 1 || node.Int("axis", 0) is not (0 or -1)) return null;
        long dim = x.Values.Length;
        var picked = new long[indices.Values.Length];
        for (int i = 0; i < picked.Length; i++)
        {
            long p = indices.Values[i] < 0 ? indices.Values[i] + dim : indices.Values[i];
            if (p < 0 || p >= dim) return null;
            picked[i] = x.Values[p];
        }
        return new HostShape(picked, indices.Dims);
    }

    /// <summary>Axes from the attribute (before opset 13) or the optional second input; empty where none are given.</summary>
    static long[]? Axes(OnnxNode node, long opset, int inputs, Func<int, HostShape?> input)
    {
        if (opset < 13) return node.Ints("axes") ?? [];
        if (inputs < 2) return [];
        return input(1) is { Dims.Length: <= 1 } a ? a.Values : null;
    }

    static HostShape? Unsqueeze(HostShape x, long[] axes)
    {
        int outRank = x.Dims.Length + axes.Length;
        var ones = new HashSet<long>();
        foreach (long a in axes)
        {
            long n = a < 0 ? a + outRank : a;
            if (n < 0 || n >= outRank || !ones.Add(n)) return null;
        }
        if (ones.Count == 0) return null;
        var dims = new long[outRank];
        for (int d = 0, k = 0; d < outRank; d++) dims[d] = ones.Contains(d) ? 1 : x.Dims[k++];
        return x with { Dims = dims };
    }

    static HostShape? Squeeze(HostShape x, long[]? axes)
    {
        if (axes is null) return null;
        int rank = x.Dims.Length;
        var gone = new HashSet<long>();
        foreach (long a in axes)
        {
            long n = a < 0 ? a + rank : a;
            if (n < 0 || n >= rank || x.Dims[n] != 1 || !gone.Add(n)) return null;
        }
        return x with { Dims = [.. x.Dims.Where((d, i) => axes.Length == 0 ? d != 1 : !gone.Contains(i))] };
    }

    static HostShape? Concat(OnnxNode node, HostShape?[] parts)
    {
        if (parts.Any(p => p is not { Dims.Length: 1 }) || node.Int("axis", 0) is not (0 or -1)) return null;
        long[] values = [.. parts.SelectMany(p => p!.Values)];
        return new HostShape(values, [values.Length]);
    }
}
