using LoKO.Engine.Presets;

namespace LoKO.Engine.Tests.Preprocessing;

public sealed class ModelAssetsTests
{
    [Fact]
    public void MiniLm_assembly_embeds_the_model_and_vocab()
    {
        Assert.Equal(
            [ModelAssets.MiniLmModelResource, ModelAssets.MiniLmVocabResource],
            ModelAssets.ListMiniLmResources().Order());
    }

    [Fact]
    public void MiniLm_model_is_a_90_9_MB_onnx_graph()
    {
        using var model = ModelAssets.OpenMiniLmModel();

        Assert.InRange(model.Length, 90_800_000, 91_000_000);
        // ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
        Assert.Equal(0x08, model.ReadByte());
        // Reads to the end give exactly Length bytes.
        model.Position = 0;
        var total = 0L;
        var buffer = new byte[1 << 20];
        int read;
        while ((read = model.Read(buffer)) > 0)
            total += read;
        Assert.Equal(model.Length, total);
    }

    [Fact]
    public void MiniLm_vocab_has_30522_tokens()
    {
        using var vocab = new StreamReader(ModelAssets.OpenMiniLmVocab());

        var lines = vocab.ReadToEnd().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(30_522, lines.Length);
        Assert.Equal("[PAD]", lines[0]);
        Assert.Equal("[CLS]", lines[101]);
        Assert.Equal("[SEP]", lines[102]);
    }

    [Fact]
    public void ResNet_files_are_in_the_output_folder()
    {
        Assert.True(File.Exists(ModelAssets.ResNet18Path));
        Assert.True(File.Exists(ModelAssets.ResNetPreprocessPath));
        Assert.InRange(new FileInfo(ModelAssets.ResNet18Path).Length, 63_000_000, 64_000_000);
        Assert.StartsWith(AppContext.BaseDirectory, ModelAssets.ResNet18Path);
    }
}
