using System.Globalization;
using System.Text;

namespace LoKO.Bench.Serving;

/// <summary>The samples as CSV, one row each, memory in MiB (empty where the server did not report a value).</summary>
static class SampleCsv
{
    public static void Write(string path, IReadOnlyList<ServerSample> samples)
    {
        var csv = new StringBuilder("seconds,rss_mb,managed_committed_mb,managed_heap_mb,native_mb,torch_tensors,resident_tenants,resident_estimate_mb,steps,step_mean_ms\n");
        ServerSample? previous = null;
        foreach (var s in samples)
        {
            double steps = s.StepCount - (previous?.StepCount ?? 0);
            double? stepMs = steps > 0 ? 1000 * (s.StepSeconds - (previous?.StepSeconds ?? 0)) / steps : null;
            csv.AppendLine(string.Join(',', F(s.Seconds), Mb(s.RssBytes), Mb(s.ManagedCommittedBytes), Mb(s.ManagedHeapBytes), Mb(s.NativeBytes),
                L(s.TorchTensors), L(s.ResidentTenants), Mb(s.ResidentEstimateBytes), F(s.StepCount), stepMs is { } ms ? F(ms) : ""));
            previous = s;
        }
        File.WriteAllText(path, csv.ToString());
    }

    public static double ToMb(long bytes) => bytes / (1024.0 * 1024.0);

    static string Mb(long? bytes) => bytes is { } b ? F(ToMb(b)) : "";
    static string L(long? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "";
    static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
