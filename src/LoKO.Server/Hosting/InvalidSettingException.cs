namespace LoKO.Server.Hosting;

/// <summary>
/// A setting the server cannot start with; the message names its configuration key. The process prints it as one
/// line and exits with <see cref="ExitCode"/>.
/// </summary>
public sealed class InvalidSettingException(string key, string problem, Exception? inner = null)
    : Exception($"{key}: {problem.ReplaceLineEndings(" ")}", inner)
{
    /// <summary>EX_CONFIG of sysexits.h: a configuration error.</summary>
    public const int ExitCode = 78;

    public string Key { get; } = key;
}
