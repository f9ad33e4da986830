using LoKO.Engine.Models;
using LoKO.Engine.Presets;

namespace LoKO.Engine.Tests.Models;

/// <summary>The real shipped base models, loaded once for every test that needs them.</summary>
public sealed class ModelFixture : IDisposable
{
    readonly Lazy<BaseModel> _miniLm = new(() => ModelPresets.Load(ModelPresets.MiniLmL6, new PresetOptions { MaxTokens = 64 }));
    readonly Lazy<BaseModel> _resNet = new(() => ModelPresets.Load(ModelPresets.ResNet18, new PresetOptions { ImageSize = 64 }));

    public BaseModel MiniLm => _miniLm.Value;
    public BaseModel ResNet18 => _resNet.Value;

    public void Dispose()
    {
        if (_miniLm.IsValueCreated) _miniLm.Value.Dispose();
        if (_resNet.IsValueCreated) _resNet.Value.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ModelCollection : ICollectionFixture<ModelFixture>
{
    public const string Name = "real models";
}
