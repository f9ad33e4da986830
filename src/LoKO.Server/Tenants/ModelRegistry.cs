using LoKO.Contracts.Rest;
using LoKO.Engine.Presets;
using LoKO.Server.Compute;
using LoKO.Server.Hosting;
using Microsoft.Extensions.Options;
using BaseModel = LoKO.Engine.Models.BaseModel;

namespace LoKO.Server.Tenants;

/// <summary>
/// The base models this server offers: the built-in presets, loaded on first use, and the ONNX files of LoKO:Models,
/// checked and loaded at startup (<see cref="LoadConfigured"/>). Each is loaded once per process and shared by every
/// tenant on it.
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    readonly ComputeExecutor _compute;
    readonly LoKOOptions _options;
    readonly IConfiguration _configuration;
    readonly ILogger<ModelRegistry> _logger;
    // Filled before the server serves (constructor, LoadConfigured), read-only after.
    readonly Dictionary<string, RegisteredModel> _models = new(StringComparer.Ordinal);

    readonly Engine.Platform.TorchDevice _device;

    public ModelRegistry(ComputeExecutor compute, IOptions<LoKOOptions> options, IConfiguration configuration, Engine.Platform.TorchDevice device,
                         ILogger<ModelRegistry> logger)
    {
        _compute = compute;
        _device = device;
        _options = options.Value;
        _configuration = configuration.GetSection(LoKOOptions.Section);
        _logger = logger;
        foreach (var name in ModelPresets.Names)
            _models[name] = new RegisteredModel(name, builtIn: true,
                () => compute.Run(() => Timed(name, () => ModelPresets.Load(name, PresetOptions))),
                () => Task.Run(() => ModelPresets.Sha256(name)));
    }

    PresetOptions PresetOptions => new() { MaxTokens = _options.MaxTokens, ImageSize = _options.ImageSize, Device = _device.Device };

    /// <summary>What a tenant's preset may name: the presets, then the configured models by name.</summary>
    public IReadOnlyList<string> Names => [.. _models.Keys];

    /// <summary>
    /// Checks and loads every model of LoKO:Models; the first that cannot be served stops the start with an
    /// <see cref="InvalidSettingException"/> naming its setting.
    /// </summary>
    public void LoadConfigured()
    {
        foreach (var spec in ConfiguredModels.Specs(_options, _configuration))
        {
            BaseModel model;
            string sha256;
            try
            {
                (model, sha256) = _compute.Run(() =>
                {
                    var loaded = Timed(spec.Name, () => ModelLoader.Load(spec, PresetOptions));
                    return (loaded, ModelFingerprint.Sha256(spec.Path));
                }).GetAwaiter().GetResult();
            }
            catch (ModelSpecException e)
            {
                throw new InvalidSettingException(ConfiguredModels.Key(spec.Name, e.Key), e.Message, e);
            }
            _models[spec.Name] = new RegisteredModel(spec.Name, builtIn: false, () => Task.FromResult(model), () => Task.FromResult(sha256));
            _logger.LogInformation("Registered base model {Model} from {Path} (SHA-256 {Sha256}): {Modality}, {Sites} LoRA sites, {Dim} features at {Node}",
                spec.Name, spec.Path, sha256, spec.Modality, model.Sites.Count, model.FeatureDim, model.Pooling.GraphValue);
        }
    }

    BaseModel Timed(string name, Func<BaseModel> load)
    {
        var started = DateTime.UtcNow;
        var model = load();
        _logger.LogInformation("Loaded base model {Model} in {Seconds:F1} s", name, (DateTime.UtcNow - started).TotalSeconds);
        return model;
    }

    /// <summary>A model by name; the name has been checked against <see cref="Names"/>.</summary>
    public Task<BaseModel> GetAsync(string name) => _models[name].ModelAsync;

    public Task<string> Sha256Async(string name) => _models[name].Sha256Async;

    /// <summary>
    /// The model a stored tenant learned on: refused (<see cref="TenantModelException"/>) when the server no longer
    /// offers it, or when its file is not the one the tenant was created on (<paramref name="sha256"/>; null for
    /// tenants stored before fingerprints were kept, which are not checked).
    /// </summary>
    public async Task<BaseModel> ForTenantAsync(string tenantId, string name, string? sha256)
    {
        if (!_models.TryGetValue(name, out var entry))
            throw new TenantModelException(tenantId,
                $"tenant '{tenantId}' is on base model '{name}', which this server does not offer (it offers {string.Join(", ", Names)}); " +
                $"register its file again as {ConfiguredModels.Key(name, "Path")}");
        var model = await entry.ModelAsync;
        if (sha256 is not null && await entry.Sha256Async is var now && now != sha256)
            throw new TenantModelException(tenantId,
                $"tenant '{tenantId}' learned on base model '{name}' with SHA-256 {sha256}, but the file registered as '{name}' now has " +
                $"SHA-256 {now}: its adapter does not fit another model. Put the original file back, or register the new one under another name");
        return model;
    }

    /// <summary>Every model with its sites; built-in presets not used yet are loaded now.</summary>
    public async Task<IReadOnlyList<ModelResponse>> DescribeAsync()
    {
        var described = new List<ModelResponse>(_models.Count);
        foreach (var entry in _models.Values)
            described.Add(ModelDescription.Of(await entry.ModelAsync, entry.BuiltIn, await entry.Sha256Async));
        return described;
    }

    public void Dispose()
    {
        foreach (var entry in _models.Values) entry.Dispose();
    }
}
