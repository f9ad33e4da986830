using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LoKO.Bench.Serving;

/// <summary>
/// The built LoKO server as a child process on free loopback ports (REST, gRPC, the Orleans silo and gateway) with a
/// data directory and settings of the caller's choosing. Its output is kept (the last lines, for failure messages) and
/// offered line by line to whoever watches it. It ends only by <see cref="Kill"/>: SIGKILL, no shutdown hook runs.
/// Only the server's binary is known here, never its code.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    const int KeptLines = 80;
    const string ServerAssembly = "LoKO.Server.dll";
    const int MaxStarts = 3;

    readonly Process _process;
    readonly Queue<string> _output = new();
    readonly HttpClient _http;

    ServerProcess(Process process, Uri rest, Uri grpc)
    {
        _process = process;
        Rest = rest;
        Grpc = grpc;
        _http = new HttpClient { BaseAddress = rest, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri Rest { get; }
    public Uri Grpc { get; }
    public bool HasExited => _process.HasExited;
    /// <summary>The exit code once the process has exited (128 + N: killed by signal N), else null.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;
    /// <summary>The server's process id (`dotnet LoKO.Server.dll` runs the server in the host's own process).</summary>
    public int Id => _process.Id;

    /// <summary>The process's resident set size (VmRSS of /proc/&lt;pid&gt;/status), bytes; null once it has exited or off Linux.</summary>
    public long? ResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException) { }
        return null;
    }

    /// <summary>Each line the server writes (stdout and stderr), on a reader thread.</summary>
    public event Action<string>? Line;

    /// <summary>
    /// Starts <paramref name="serverPath"/> (a .dll is run by `dotnet`, anything else executed) with
    /// <paramref name="settings"/> ("--Section:Key=value") after the ports, data directory and admin key.
    /// </summary>
    public static ServerProcess Start(string serverPath, string dataDirectory, string adminKey, IEnumerable<string> settings)
    {
        if (!File.Exists(serverPath)) throw new FileNotFoundException($"no server binary at {serverPath}", serverPath);
        bool dll = serverPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var info = new ProcessStartInfo(dll ? "dotnet" : serverPath)
        {
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(serverPath))!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        int rest = FreePort(), grpc = FreePort();
        if (dll) info.ArgumentList.Add(serverPath);
        string[] args =
        [
            "--urls", $"http://127.0.0.1:{rest}",
            $"--LoKO:GrpcUrl=http://127.0.0.1:{grpc}",
            // The defaults (11111, 30000) would collide between servers side by side.
            $"--LoKO:Orleans:SiloPort={FreePort()}",
            $"--LoKO:Orleans:GatewayPort={FreePort()}",
            $"--LoKO:DataDirectory={dataDirectory}",
            $"--LoKO:AdminKey={adminKey}",
            .. settings,
        ];
        foreach (var arg in args) info.ArgumentList.Add(arg);

        var process = new Process { StartInfo = info };
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{rest}"), new Uri($"http://127.0.0.1:{grpc}"));
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>
    /// <see cref="Start"/>, then <see cref="WaitReadyAsync"/>. A free port picked here may be taken (as some connection's
    /// local port) before the server binds it: that start is tried again on other ports.
    /// </summary>
    public static async Task<(ServerProcess Server, TimeSpan Ready)> StartReadyAsync(string serverPath, string dataDirectory, string adminKey,
                                                                                  IEnumerable<string> settings, TimeSpan limit, CancellationToken ct = default)
    {
        var args = settings.ToList();
        for (int attempt = 1; ; attempt++)
        {
            var server = Start(serverPath, dataDirectory, adminKey, args);
            try
            {
                return (server, await server.WaitReadyAsync(limit, ct: ct));
            }
            catch (ServerFailure e) when (attempt < MaxStarts && e.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// The server built beside the running program: the same configuration and output folder layout under
    /// src/LoKO.Server of the repository this program was built in (e.g. src/LoKO.Server/bin/Debug/net10.0/linux-x64).
    /// </summary>
    public static string BuiltServerPath()
    {
        var baseDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        for (var project = baseDirectory.Parent; project?.Parent is not null; project = project.Parent)
        {
            if (!project.EnumerateFiles("*.csproj").Any()) continue;
            var output = Path.GetRelativePath(project.FullName, baseDirectory.FullName);
            for (var root = project.Parent; root is not null; root = root.Parent)
            {
                var candidate = Path.Combine(root.FullName, "src", "LoKO.Server", output, ServerAssembly);
                if (File.Exists(candidate)) return candidate;
            }
            break;
        }
        var beside = Path.Combine(baseDirectory.FullName, ServerAssembly);
        return File.Exists(beside) ? beside
            : throw new FileNotFoundException($"no built {ServerAssembly} found from {baseDirectory.FullName}: build src/LoKO.Server or name it with --server PATH");
    }

    /// <summary>How long until <paramref name="path"/> answers 2xx; a server that exits or stays unready is a <see cref="ServerFailure"/>.</summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan limit, string path = "/readyz", CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited) throw new ServerFailure($"the server exited with {_process.ExitCode} before it was ready", OutputTail());
            try
            {
                using var response = await _http.GetAsync(path, ct);
                if (response.IsSuccessStatusCode) return clock.Elapsed;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            if (clock.Elapsed > limit) throw new ServerFailure($"the server was not ready within {limit.TotalSeconds:F0} s", OutputTail());
            await Task.Delay(50, ct);
        }
    }

    /// <summary>The last lines the server wrote.</summary>
    public string OutputTail()
    {
        lock (_output) return string.Join('\n', _output);
    }

    void Keep(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > KeptLines) _output.Dequeue();
        }
        Line?.Invoke(line);
    }

    /// <summary>SIGKILL to the whole process tree, then waits for it to be gone: no shutdown hooks, no shutdown checkpoint.</summary>
    public void Kill()
    {
        try
        {
            if (_process.HasExited) return;
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _http.Dispose();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
