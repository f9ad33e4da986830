using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace LoKO.Server.Tests.Tools;

/// <summary>
/// A real Prometheus (Debian's package) as a child process on a free loopback port, with its own configuration and
/// storage in a temporary folder, queried over its HTTP API.
/// </summary>
public sealed class PrometheusProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly string _directory;
    readonly HttpClient _http;

    PrometheusProcess(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Starts Prometheus on <paramref name="configuration"/> (written as prometheus.yml beside <paramref name="files"/>).</summary>
    public static async Task<PrometheusProcess> StartAsync(string configuration, IReadOnlyDictionary<string, string> files)
    {
        var binary = ExternalTool.Require("prometheus");
        var directory = Path.Combine(Path.GetTempPath(), "loko-prometheus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "prometheus.yml"), configuration);
        foreach (var (name, text) in files) File.WriteAllText(Path.Combine(directory, name), text);
        int port = LoKOTestServer.FreePort();
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--config.file={Path.Combine(directory, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(directory, "data")}",
            $"--web.listen-address=127.0.0.1:{port}",
        }) start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var prometheus = new PrometheusProcess(process, directory, port);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"prometheus exited with {process.ExitCode}: {string.Join('\n', log.TakeLast(20))}");
            try
            {
                using var ready = await prometheus._http.GetAsync("/-/ready");
                if (ready.StatusCode == HttpStatusCode.OK) return prometheus;
            }
            catch (HttpRequestException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("prometheus was not ready within 60 s: " + string.Join('\n', log.TakeLast(20)));
            await Task.Delay(200);
        }
    }

    /// <summary>GET an API path; the parsed body ("status", "data" or "error").</summary>
    public async Task<JsonElement> GetAsync(string pathAndQuery)
    {
        using var response = await _http.GetAsync(pathAndQuery);
        var body = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>An instant query through /api/v1/query.</summary>
    public Task<JsonElement> QueryAsync(string promql) => GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));

    /// <summary>Polls <paramref name="promql"/> until <paramref name="done"/> holds for its result vector.</summary>
    public async Task<JsonElement> QueryUntilAsync(string promql, Func<JsonElement, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var answer = await QueryAsync(promql);
            if (answer.GetProperty("status").GetString() == "success" && done(answer.GetProperty("data").GetProperty("result"))) return answer;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"'{promql}' did not reach the expected result within {timeout.TotalSeconds:F0} s; last answer {answer}");
            await Task.Delay(500);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
