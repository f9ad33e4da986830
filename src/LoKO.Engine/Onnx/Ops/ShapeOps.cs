using LoKO.Engine.Platform;
using TorchSharp;
using static TorchSharp.torch;

namespace LoKO.Engine.Onnx.Ops;

/// <summary>Shape computation and data movement. Shapes are int64 tensors on the CPU, computed per run (dynamic shapes).</summary>
static class ShapeOps
{
    public static IEnumerable<OpKernel> Kernels() =>
    [
        new("Shape", Shape),
        new("Reshape", Reshape, 5),
        new("Concat", Concat),
        new("Slice", Slice),
        new("Gather", Gather),
        new("Unsqueeze", c => [Unsqueeze(c)]),
        new("Squeeze", c => [Squeeze(c)]),
        new("Transpose", Transpose),
        new("Flatten", Flatten),
        new("Expand", Expand, 8),
        new("ConstantOfShape", ConstantOfShape, 9),
        new("Split", Split),
    ];

    static Tensor[] Shape(OpContext c)
    {
        long[] shape = c.Input(0).shape;
        long rank = shape.Length;
        long start = Boundary(c.Node.Int("start", 0), rank, clamp: true);
        long end = Boundary(c.Node.Int("end", rank), rank, clamp: true);
        return [tensor(shape[(int)start..(int)Math.Max(start, end)])];
    }

    static Tensor[] Reshape(OpContext c)
    {
        var x = c.Input(0);
        long[] target = c.InputInts(1);
        bool allowZero = c.Node.Int("allowzero", 0) == 1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] != 0 || allowZero) continue;
            if (i >= x.dim()) throw c.Fail($"shape[{i}] = 0 copies a dimension the input (rank {x.dim()}) does not have");
            target[i] = x.shape[i];
        }
        try { return [x.reshape(target)]; }
        catch (Exception e) when (e is not OnnxModelException)
        {
            throw c.Fail($"cannot reshape [{string.Join(",", x.shape)}] to [{string.Join(",", target)}]");
        }
    }

    static Tensor[] Concat(OpContext c)
    {
        var parts = Enumerable.Range(0, c.InputCount).Select(c.Input).ToList();
        var device = parts.FirstOrDefault(p => p.is_floating_point())?.device ?? parts[0].device;
        var rank = parts[0].dim();
        long axis = Axis(c.Node.Int("axis", 0), rank);
        return [cat([.. parts.Select(p => p.device == device ? p : p.to(device))], axis)];
    }

    static Tensor[] Slice(OpContext c)
    {
        var x = c.Input(0);
        long[] starts, ends;
        long[]? axes, steps = null;
        if (c.Opset < 10)
        {
            starts = c.Node.Ints("starts") ?? throw c.Fail("attribute 'starts' is required");
            ends = c.Node.Ints("ends") ?? throw c.Fail("attribute 'ends' is required");
            axes = c.Node.Ints("axes");
        }
        else
        {
            starts = c.InputInts(1);
            ends = c.InputInts(2);
            axes = c.OptionalInputInts(3);
            steps = c.OptionalInputInts(4);
        }
        axes ??= [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        var y = x;
        for (int i = 0; i < axes.Length; i++)
        {
            long axis = Axis(axes[i], x.dim());
            long dim = x.shape[axis];
            long step = steps?[i] ?? 1;
            if (step == 0) throw c.Fail("steps must not be 0");
            long start = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
                y = y.slice(axis, start, Math.Max(start, end), step);
            }
            else
            {
                // Stepping backwards, start clamps to [0, dim-1] (a start before the first element still
                // takes it) and end to [-1, dim-1], -1 meaning "through index 0". An empty dim stays empty.
                start = Math.Min(Math.Max(start, 0), dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                using Scalar from = start.ToScalar(), to = end.ToScalar(), by = step.ToScalar();
                var idx = start > end ? arange(from, to, by, dtype: ScalarType.Int64, device: y.device) : empty(0, ScalarType.Int64, device: y.device);
                y = y.index_select(axis, idx);
            }
        }
        return [y];
    }

    static Tensor[] Gather(OpContext c)
    {
        var x = c.Input(0);
        if (x.dim() == 1 && IsShapeVector(x) && IsShapeVector(c.Input(1))) return [GatherShape(c, x, c.Input(1))];
        var indices = c.Input(1).to(ScalarType.Int64).OnDeviceOf(x);
        long axis = Axis(c.Node.Int("axis", 0), x.dim());
        long dim = x.shape[axis];
        var flat = indices.flatten();
        using Scalar zero = 0.ToScalar(), size = dim.ToScalar();
        flat = where(flat.lt(zero), flat.add(size, HeldScalars.One), flat);
        if (flat.numel() > 0 && (flat.min().item<long>() < 0 || flat.max().item<long>() >= dim))
            throw c.Fail($"an index is out of range for axis {axis} of size {dim}");
        long[] outShape = [.. x.shape[..(int)axis], .. indices.shape, .. x.shape[(int)(axis + 1)..]];
        return [x.index_select(axis, flat).reshape(outShape)];
    }

    /// <summary>A small int64 vector or scalar on the CPU: the shape arithmetic exporters emit around every Reshape.</summary>
    static bool IsShapeVector(Tensor t) =>
        t.dtype == ScalarType.Int64 && t.device_type == TorchSharp.DeviceType.CPU && t.dim() <= 1 && t.numel() <= 16;

    /// <summary>
    /// Gather on a shape, read and written on the host: one tensor made instead of a dozen ops, which cost
    /// more than MiniLM's attention when each text brings a new length (and so misses the shape cache).
    /// </summary>
    static Tensor GatherShape(OpContext c, Tensor x, Tensor indices)
    {
        Axis(c.Node.Int("axis", 0), 1);
        long[] values = c.InputInts(0), picks = c.InputInts(1);
        long dim = values.Length;
        var gathered = new long[picks.Length];
        for (int i = 0; i < picks.Length; i++)
        {
            long p = picks[i] < 0 ? picks[i] + dim : picks[i];
            if (p < 0 || p >= dim) throw c.Fail($"an index is out of range for axis 0 of size {dim}");
            gathered[i] = values[p];
        }
        return indices.dim() == 0 ? tensor(gathered[0]) : tensor(gathered);
    }

    static Tensor Unsqueeze(OpContext c)
    {
        var x = c.Input(0);
        long[] axes = (c.Opset < 13 ? c.Node.Ints("axes") : c.OptionalInputInts(1)) ?? throw c.Fail("axes are required");
        long outRank = x.dim() + axes.Length;
        var y = x;
        foreach (var a in axes.Select(a => Axis(a, outRank)).Order()) y = y.unsqueeze(a);
        return y;
    }

    static Tensor Squeeze(OpContext c)
    {
        var x = c.Input(0);
        long[]? axes = c.Opset < 13 ? c.Node.Ints("axes") : c.OptionalInputInts(1);
        if (axes is null || axes.Length == 0) return x.squeeze();
        var y = x;
        foreach (var a in axes.Select(a => Axis(a, x.dim())).OrderDescending())
        {
            if (x.shape[a] != 1) throw c.Fail($"cannot squeeze axis {a} of size {x.shape[a]}");
            y = y.squeeze(a);
        }
        return y;
    }

    static Tensor[] Transpose(OpContext c)
    {
        var x = c.Input(0);
        long[] perm = c.Node.Ints("perm") ?? [.. Enumerable.Range(0, (int)x.dim()).Reverse().Select(i => (long)i)];
        return [x.permute(perm)];
    }

    static Tensor[] Flatten(OpContext c)
    {
        var x = c.Input(0);
        long axis = Boundary(c.Node.Int("axis", 1), x.dim());
        long outer = x.shape[..(int)axis].Aggregate(1L, (a, b) => a * b);
        return [x.reshape(outer, -1)];
    }

    static Tensor[] Expand(OpContext c)
    {
        var x = c.Input(0);
        long[] shape = c.InputInts(1);
        int rank = Math.Max(shape.Length, (int)x.dim());
        var target = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long a = i - (rank - x.dim()) >= 0 ? x.shape[i - (rank - x.dim())] : 1;
            long b = i - (rank - shape.Length) >= 0 ? shape[i - (rank - shape.Length)] : 1;
            if (a != b && a != 1 && b != 1) throw c.Fail($"cannot broadcast [{string.Join(",", x.shape)}] to [{string.Join(",", shape)}]");
            target[i] = a == 1 ? b : a;
        }
        return [x.expand(target)];
    }

    static Tensor[] ConstantOfShape(OpContext c)
    {
        long[] shape = c.InputInts(0);
        if (c.Node.TensorAttribute("value") is { } v)
        {
            using var value = TensorProtoConverter.ToTensor(v, $"ConstantOfShape '{c.Node.Name}' value");
            // From a 0-d value: expand cannot drop the dim of a [1] tensor when the shape is empty (a scalar output).
            return [value.reshape([]).expand(shape).clone()];
        }
        return [zeros(shape, ScalarType.Float32)];
    }

    static Tensor[] Split(OpContext c)
    {
        var x = c.Input(0);
        long axis = Axis(c.Node.Int("axis", 0), x.dim());
        long[]? sizes = c.Opset < 13 ? c.Node.Ints("split") : c.OptionalInputInts(1);
        int parts = c.Node.Outputs.Count;
        if (sizes is null || sizes.Length == 0)
        {
            long dim = x.shape[axis];
            long each = (dim + parts - 1) / parts;
            sizes = [.. Enumerable.Range(0, parts).Select(i => Math.Max(0, Math.Min(each, dim - i * each)))];
        }
        if (sizes.Sum() != x.shape[axis]) throw c.Fail($"split sizes [{string.Join(",", sizes)}] do not add up to {x.shape[axis]}");
        return x.split(sizes, axis);
    }

    /// <summary>Normalises a possibly negative axis against <paramref name="rank"/>.</summary>
    internal static long Axis(long axis, long rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new OnnxModelException($"axis {axis} is out of range for rank {rank}");
        return a;
    }

    /// <summary>
    /// Normalises a position between dimensions (Flatten's axis, Shape's start and end), which may equal
    /// <paramref name="rank"/>. Negative values still count from the back as for an axis (-1 is rank - 1),
    /// so this is not <see cref="Axis"/> against rank + 1.
    /// </summary>
    internal static long Boundary(long position, long rank, bool clamp = false)
    {
        long p = position < 0 ? position + rank : position;
        if (clamp) return Math.Clamp(p, 0, rank);
        if (p < 0 || p > rank) throw new OnnxModelException($"axis {position} is out of range [{-rank}, {rank}]");
        return p;
    }
}
