using System.Collections.Concurrent;
using LoKO.Engine.Models;
using LoKO.Engine.Presets;
using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using Microsoft.Extensions.Options;

namespace LoKO.Server.Tenants;

/// <summary>Base models, loaded once per process on first use and shared by every tenant of that preset.</summary>
public sealed class ModelRegistry(ComputeExecutor compute, IOptions<LoKOOptions> options, ILogger<ModelRegistry> logger) : IDisposable
{
    readonly ConcurrentDictionary<string, Lazy<Task<BaseModel>>> _models = new();

    public Task<BaseModel> GetAsync(string preset) =>
        _models.GetOrAdd(preset, name => new Lazy<Task<BaseModel>>(() => compute.Run(() =>
        {
            var started = DateTime.UtcNow;
            var model = ModelPresets.Load(name, new PresetOptions { MaxTokens = options.Value.MaxTokens, ImageSize = options.Value.ImageSize });
            logger.LogInformation("Loaded base model {Preset} in {Seconds:F1} s", name, (DateTime.UtcNow - started).TotalSeconds);
            return model;
        }))).Value;

    public void Dispose()
    {
        foreach (var lazy in _models.Values)
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully) lazy.Value.Result.Dispose();
    }
}
