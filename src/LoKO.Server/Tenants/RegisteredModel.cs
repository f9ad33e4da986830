using LoKO.Engine.Models;

namespace LoKO.Server.Tenants;

/// <summary>One base model of the <see cref="ModelRegistry"/>: loaded and fingerprinted once, when first needed.</summary>
public sealed class RegisteredModel(string name, bool builtIn, Func<Task<BaseModel>> load, Func<Task<string>> sha256)
{
    readonly Lazy<Task<BaseModel>> _model = new(load);
    readonly Lazy<Task<string>> _sha256 = new(sha256);

    public string Name { get; } = name;
    /// <summary>A preset shipped with the server, not a file of LoKO:Models.</summary>
    public bool BuiltIn { get; } = builtIn;
    public Task<BaseModel> ModelAsync => _model.Value;
    /// <summary>SHA-256 of the ONNX file, as loaded.</summary>
    public Task<string> Sha256Async => _sha256.Value;

    public void Dispose()
    {
        if (_model.IsValueCreated && _model.Value.IsCompletedSuccessfully) _model.Value.Result.Dispose();
    }
}
