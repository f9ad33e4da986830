using LoKO.Bench.Serving;

namespace LoKO.Bench.Chaos;

/// <summary>
/// The server of one run across its kills: one process at a time on the same data directory, numbered by
/// generation. Clients wait in <see cref="UpAsync"/> while it is down or starting; a client whose call fails after
/// <see cref="KillAsync"/> sees the generation moved on and knows the kill caused it. The killer watches the server's
/// output lines, the checkpoint files appearing in its data directory and the writes to its store's write-ahead log.
/// </summary>
sealed class ChaosServer : IAsyncDisposable
{
    static readonly TimeSpan ReadyLimit = TimeSpan.FromMinutes(3);

    readonly string _serverPath, _dataDirectory, _adminKey;
    readonly IReadOnlyList<string> _settings;
    readonly FileSystemWatcher _watcher, _storeWatcher;
    ServerProcess? _process;
    TaskCompletionSource<ServerConnection> _up = NewUp();
    int _generation;

    public ChaosServer(string serverPath, string dataDirectory, string adminKey, IReadOnlyList<string> settings)
    {
        (_serverPath, _dataDirectory, _adminKey, _settings) = (serverPath, dataDirectory, adminKey, settings);
        Directory.CreateDirectory(dataDirectory);
        // Checkpoint files only (the server writes them as *.safetensors.tmp, then renames them).
        _watcher = new FileSystemWatcher(dataDirectory, "*.safetensors*") { IncludeSubdirectories = true, NotifyFilter = NotifyFilters.FileName };
        _watcher.Created += (_, e) => CheckpointFile?.Invoke(e.FullPath);
        _watcher.EnableRaisingEvents = true;
        // The SQLite store's write-ahead log: every commit (an append, a checkpoint's row, a rollback) writes to it.
        _storeWatcher = new FileSystemWatcher(dataDirectory, "*-wal") { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size };
        _storeWatcher.Changed += (_, e) => StoreWritten?.Invoke(e.FullPath);
        _storeWatcher.EnableRaisingEvents = true;
    }

    public int Generation => Volatile.Read(ref _generation);
    public string DataDirectory => _dataDirectory;

    /// <summary>A line of the live server's output.</summary>
    public event Action<string>? Line;
    /// <summary>A checkpoint file was created in the data directory.</summary>
    public event Action<string>? CheckpointFile;
    /// <summary>The metadata store's write-ahead log was written: a commit is under way.</summary>
    public event Action<string>? StoreWritten;

    /// <summary>The live server once it is open to clients.</summary>
    public Task<ServerConnection> UpAsync(CancellationToken ct) => Volatile.Read(ref _up).Task.WaitAsync(ct);

    /// <summary>The process, or its output when it has ended on its own: a kill is the only way it should end.</summary>
    public void RequireAlive()
    {
        if (_process is { HasExited: true } p && Volatile.Read(ref _up).Task.IsCompleted)
            throw new ServerFailure($"the server (generation {Generation}) exited without being killed", p.OutputTail());
    }

    public string OutputTail() => _process?.OutputTail() ?? "";

    /// <summary>Starts a process on the data directory; returns how long it took to answer /readyz. Clients wait until <see cref="Open"/>.</summary>
    public async Task<(ServerConnection Connection, TimeSpan Ready)> StartAsync(CancellationToken ct)
    {
        var (process, ready) = await ServerProcess.StartReadyAsync(_serverPath, _dataDirectory, _adminKey, _settings, ReadyLimit, ct);
        process.Line += line => Line?.Invoke(line);
        _process = process;
        return (new ServerConnection(Generation, process.Rest, process.Grpc, _adminKey), ready);
    }

    /// <summary>Lets the clients in.</summary>
    public void Open(ServerConnection connection) => Volatile.Read(ref _up).TrySetResult(connection);

    /// <summary>Closes the door and moves the generation on first, then SIGKILL.</summary>
    public async Task KillAsync()
    {
        Interlocked.Exchange(ref _up, NewUp());
        Interlocked.Increment(ref _generation);
        if (_process is { } process) await process.DisposeAsync();
    }

    static TaskCompletionSource<ServerConnection> NewUp() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        _watcher.Dispose();
        _storeWatcher.Dispose();
        if (_process is { } process) await process.DisposeAsync();
    }
}
