using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using TorchSharp;
using DataType = Onnx.TensorProto.Types.DataType;

namespace LoKO.Engine.Tests.Onnx;

/// <summary>
/// ONNX Runtime as the reference for our executor: a model run with every graph optimisation off, and
/// our outputs compared with its in element type, shape and values (floats within 1e-5 of the output's
/// scale, integers and booleans exactly).
/// </summary>
static class OnnxRuntimeReference
{
    public static HostTensor[] RunOnnxRuntime(byte[] model, HostTensor[] feeds, string[] outputs)
    {
        // Plain kernels as the reference: no fusions or rewrites between the model and the result.
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        using var session = new InferenceSession(model, options);
        var values = feeds.Select(ToOrt).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [.. feeds.Select(f => f.Name)], values, outputs);
            return [.. results.Zip(outputs, (v, o) => FromOrt(o, v))];
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    static OrtValue ToOrt(HostTensor h) => h.Data switch
    {
        float[] f => OrtValue.CreateTensorValueFromMemory(f, h.Shape),
        long[] l => OrtValue.CreateTensorValueFromMemory(l, h.Shape),
        int[] i => OrtValue.CreateTensorValueFromMemory(i, h.Shape),
        bool[] b => OrtValue.CreateTensorValueFromMemory(b, h.Shape),
        _ => throw new ArgumentException($"feed {h}: unsupported data"),
    };

    static HostTensor FromOrt(string name, OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        // TensorElementType uses ONNX's own numbering.
        var type = (DataType)(int)info.ElementDataType;
        Array data = info.ElementDataType switch
        {
            TensorElementType.Float => v.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => v.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Int64 => v.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Int32 => v.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Bool => v.GetTensorDataAsSpan<bool>().ToArray(),
            var t => throw new ArgumentException($"output '{name}': unsupported element type {t}"),
        };
        return new HostTensor(name, type, info.Shape, data);
    }

    public static torch.Tensor ToTorch(HostTensor h) => (h.Data switch
    {
        float[] f => torch.tensor(f),
        long[] l => torch.tensor(l),
        int[] i => torch.tensor(i),
        bool[] b => torch.tensor(b),
        _ => throw new ArgumentException($"feed {h}: unsupported data"),
    }).reshape(h.Shape);

    public static HostTensor FromTorch(string name, torch.Tensor t)
    {
        var c = t.contiguous();
        // TorchSharp's accessor cannot copy out of a zero-element tensor.
        T[] Values<T>() where T : unmanaged => c.numel() == 0 ? [] : c.data<T>().ToArray();
        (DataType type, Array data) = t.dtype switch
        {
            torch.ScalarType.Float32 => (DataType.Float, (Array)Values<float>()),
            torch.ScalarType.Float64 => (DataType.Double, Values<double>()),
            torch.ScalarType.Int64 => (DataType.Int64, Values<long>()),
            torch.ScalarType.Int32 => (DataType.Int32, Values<int>()),
            torch.ScalarType.Bool => (DataType.Bool, Values<bool>()),
            var d => throw new ArgumentException($"output '{name}': unsupported dtype {d}"),
        };
        return new HostTensor(name, type, t.shape, data);
    }

    public static void AssertClose(HostTensor expected, HostTensor actual, string what)
    {
        Assert.True(expected.Type == actual.Type, $"{what}: element type {actual.Type}, ONNX Runtime gives {expected.Type}");
        Assert.True(expected.Shape.SequenceEqual(actual.Shape),
            $"{what}: shape [{string.Join(",", actual.Shape)}], ONNX Runtime gives [{string.Join(",", expected.Shape)}]");
        switch (expected.Data, actual.Data)
        {
            case (float[] e, float[] a):
                CloseFloats([.. e.Select(x => (double)x)], [.. a.Select(x => (double)x)], what);
                break;
            case (double[] e, double[] a):
                CloseFloats(e, a, what);
                break;
            default:
                object[] el = [.. expected.Data.Cast<object>()], al = [.. actual.Data.Cast<object>()];
                for (int i = 0; i < el.Length; i++)
                    Assert.True(el[i].Equals(al[i]), $"{what}: element {i} is {al[i]}, ONNX Runtime gives {el[i]}");
                break;
        }
    }

    static void CloseFloats(double[] expected, double[] actual, string what)
    {
        double scale = Math.Max(1, expected.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
        double tolerance = 1e-5 * scale;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool same = double.IsNaN(e) ? double.IsNaN(a) : double.IsInfinity(e) ? e == a : Math.Abs(e - a) <= tolerance;
            Assert.True(same, $"{what}: element {i} is {a}, ONNX Runtime gives {e} (tolerance {tolerance:g3})");
        }
    }
}
