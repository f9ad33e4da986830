using LoKO.Engine.Imaging;
using LoKO.Engine.Lora;
using LoKO.Engine.Models;
using LoKO.Engine.Onnx;
using LoKO.Engine.Text;
using static TorchSharp.torch;

namespace LoKO.Engine.Presets;

/// <summary>
/// Loads a <see cref="ModelSpec"/> into a <see cref="BaseModel"/>. Everything that can be checked before a tenant
/// uses it is checked here — the file parses, every op is supported, the inputs are what the encoder feeds, the
/// feature node exists and pools to one vector per example of a batch, the target globs select sites — and each
/// problem names the setting at fault (<see cref="ModelSpecException.Key"/>).
/// </summary>
public static class ModelLoader
{
    /// <summary>What a text graph may take, as <see cref="TextInputEncoder"/> feeds them (BERT's names).</summary>
    static readonly string[] TextInputs = ["input_ids", "attention_mask", "token_type_ids"];

    public static BaseModel Load(ModelSpec spec, PresetOptions? options = null)
    {
        options ??= new PresetOptions();
        var graph = LoadGraph(spec);
        try
        {
            var featureValue = FeatureValue(graph, spec);
            if (!FeaturePoolings.Fits(spec.Pooling, spec.Modality))
                throw new ModelSpecException("Features:Pooling",
                    $"'{FeaturePoolings.NameOf(spec.Pooling)}' does not fit a {Name(spec.Modality)} model: one of " +
                    string.Join(", ", Enum.GetValues<PoolingKind>().Where(k => FeaturePoolings.Fits(k, spec.Modality)).Select(FeaturePoolings.NameOf)));
            IInputEncoder encoder = spec.Modality == Modality.Text ? TextEncoderFor(graph, spec, options) : ImageEncoderFor(graph, spec, options);
            var pooling = FeaturePoolings.Create(spec.Pooling, featureValue);
            long featureDim = Probe(graph, encoder, pooling, spec);
            var targets = DefaultTargets(graph, featureValue, spec);
            var model = new BaseModel(spec.Name, graph, encoder, pooling, featureDim, targets, options.Device);
            RelaxBatch(model.Executor, spec.Modality);
            return model;
        }
        catch
        {
            graph.Dispose();
            throw;
        }
    }

    static OnnxGraph LoadGraph(ModelSpec spec)
    {
        if (!File.Exists(spec.Path)) throw new ModelSpecException("Path", $"'{spec.Path}' does not exist");
        try
        {
            return OnnxGraph.Load(spec.Path, spec.Name);
        }
        catch (Exception e) when (e is OnnxModelException or IOException or UnauthorizedAccessException)
        {
            throw new ModelSpecException("Path", $"'{spec.Path}': {e.Message}", e);
        }
    }

    /// <summary>The value the features are read from: a node's output, or the first output of the node so named.</summary>
    static string FeatureValue(OnnxGraph graph, ModelSpec spec)
    {
        if (graph.Nodes.Any(n => n.Outputs.Contains(spec.FeatureNode))) return spec.FeatureNode;
        if (graph.Nodes.FirstOrDefault(n => n.Name == spec.FeatureNode) is { } node) return node.Outputs[0];
        var outputs = graph.Nodes.TakeLast(6).Select(n => $"'{n.Outputs[0]}' ({n.OpType})");
        throw new ModelSpecException("Features:Node",
            $"'{spec.FeatureNode}' is neither a node nor a value any node computes; the last nodes compute {string.Join(", ", outputs)}");
    }

    static TextInputEncoder TextEncoderFor(OnnxGraph graph, ModelSpec spec, PresetOptions options)
    {
        if (graph.Inputs.Any(i => !TextInputs.Contains(i.Name) || i.ElementType != ScalarType.Int64) || graph.Inputs.All(i => i.Name != "input_ids"))
            throw new ModelSpecException("Path",
                $"'{spec.Path}': a text model takes int64 inputs named input_ids and, optionally, attention_mask and token_type_ids " +
                $"(as BERT exports do); this graph takes {string.Join(", ", graph.Inputs)}");
        if (string.IsNullOrWhiteSpace(spec.Vocab))
            throw new ModelSpecException("Vocab", "is required for a text model: the WordPiece vocabulary, one token a line, whose ids input_ids takes");
        if (!File.Exists(spec.Vocab)) throw new ModelSpecException("Vocab", $"'{spec.Vocab}' does not exist");

        TextEncoder tokenizer;
        int tokens;
        try
        {
            tokens = File.ReadLines(spec.Vocab).Count();
            using var vocab = File.OpenRead(spec.Vocab);
            tokenizer = new TextEncoder(vocab, options.MaxTokens);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ModelSpecException("Vocab", $"'{spec.Vocab}' is not a WordPiece vocabulary with [CLS], [SEP], [PAD] and [UNK]: {e.Message}", e);
        }
        // An id past the embedding table would only fail on the first text that uses it.
        foreach (var gather in graph.Nodes.Where(n => n.OpType == "Gather" && n.Inputs.Count > 1 && n.Inputs[1] == "input_ids"))
            if (graph.Initializers.TryGetValue(gather.Inputs[0], out var table) && table.shape[0] < tokens)
                throw new ModelSpecException("Vocab",
                    $"'{spec.Vocab}' has {tokens} tokens, but the graph's embedding '{gather.Inputs[0]}' has {table.shape[0]} rows");
        return new TextInputEncoder(tokenizer);
    }

    static ImageInputEncoder ImageEncoderFor(OnnxGraph graph, ModelSpec spec, PresetOptions options)
    {
        if (graph.Inputs.Count != 1 || graph.Inputs[0].ElementType != ScalarType.Float32 || graph.Inputs[0].Dims is { Length: not 4 } ||
            graph.Inputs[0].Dims?[1] is not (null or 3))
            throw new ModelSpecException("Path",
                $"'{spec.Path}': an image model takes one float32 input [batch, 3, height, width]; this graph takes {string.Join(", ", graph.Inputs)}");
        var input = graph.Inputs[0];
        long? height = input.Dims?[2], width = input.Dims?[3];
        int size = spec.Image.Size ?? (int?)(height ?? width) ?? options.ImageSize;
        if (size is < 4 or > 1024) throw new ModelSpecException("Image:Size", $"{size} is not between 4 and 1024");
        if (height is { } h && h != size || width is { } w && w != size)
            throw new ModelSpecException("Image:Size", $"{size} does not fit the graph's input {input}");

        CheckChannels(spec.Image.Mean, "Image:Mean", m => float.IsFinite(m), "a finite number");
        CheckChannels(spec.Image.Std, "Image:Std", s => float.IsFinite(s) && s > 0, "above 0");
        return new ImageInputEncoder(input.Name, size, new ChannelNormalisation(spec.Image.Mean, spec.Image.Std));
    }

    static void CheckChannels(IReadOnlyList<float> values, string key, Func<float, bool> valid, string what)
    {
        if (values.Count != 3) throw new ModelSpecException(key, $"needs three values (R, G, B), got {values.Count}");
        if (!values.All(valid)) throw new ModelSpecException(key, $"every value must be {what}: [{string.Join(", ", values)}]");
    }

    /// <summary>
    /// Runs a batch of two through the graph up to the feature node, so that a graph that cannot batch, a node that
    /// fails on these inputs or a pooling that does not give one vector per example fails now; gives the feature width.
    /// </summary>
    static long Probe(OnnxGraph graph, IInputEncoder encoder, IFeaturePooling pooling, ModelSpec spec)
    {
        ModelInput[] batch = spec.Modality == Modality.Text
            ? [new TextInput("a short text"), new TextInput("another one")]
            : [new ImageInput(new RgbImage(8, 8, new byte[8 * 8 * 3])), new ImageInput(new RgbImage(8, 8, Enumerable.Repeat((byte)200, 8 * 8 * 3).ToArray()))];
        using var scope = NewDisposeScope();
        using var executor = new GraphExecutor(graph);
        RelaxBatch(executor, spec.Modality);
        using var inputs = encoder.Encode(batch, CPU);
        Tensor value;
        try
        {
            value = executor.Run(inputs.Feeds, [pooling.GraphValue])[pooling.GraphValue];
        }
        catch (OnnxModelException e)
        {
            throw new ModelSpecException("Path", $"'{spec.Path}' does not run on a batch of two {Name(spec.Modality)} inputs: {e.Message}", e);
        }
        var shape = $"[{string.Join(", ", value.shape)}]";
        if (value.dtype != ScalarType.Float32)
            throw new ModelSpecException("Features:Node", $"'{pooling.GraphValue}' is {TensorProtoConverter.OnnxTypeName(value.dtype)} {shape}, not float32");
        // The token poolings read [batch, tokens, hidden]; anything else would pool the wrong axis.
        bool fits = spec.Pooling switch
        {
            PoolingKind.Mean or PoolingKind.Cls => value.dim() == 3 && value.shape[1] == inputs.Feeds["input_ids"].shape[1],
            PoolingKind.GlobalAverage => value.dim() >= 3,
            _ => true,
        };
        var features = fits ? pooling.Pool(value, inputs) : null;
        if (features is null || features.dim() != 2 || features.shape[0] != batch.Length || features.shape[1] == 0)
            throw new ModelSpecException("Features:Pooling",
                $"'{FeaturePoolings.NameOf(spec.Pooling)}' of '{pooling.GraphValue}' {shape} (a batch of {batch.Length}) " +
                (features is null ? "does not fit its shape" : $"gives [{string.Join(", ", features.shape)}], not one vector per example") +
                (spec.Pooling is PoolingKind.Mean or PoolingKind.Cls ? ": the token poolings need [batch, tokens, hidden]" : "") +
                (value.dim() == 2 ? $"; '{pooling.GraphValue}' already holds one vector per example: pooling none" : ""));
        return features.shape[1];
    }

    /// <summary>
    /// The sites the features depend on (a site after the feature node would never learn). Unset targets select all
    /// of them; a glob that selects none of them is an error.
    /// </summary>
    static IReadOnlyList<string> DefaultTargets(OnnxGraph graph, string featureValue, ModelSpec spec)
    {
        var all = LoraSiteFinder.Find(graph);
        var upstream = Upstream(graph, featureValue);
        var sites = all.Where(s => upstream.Contains(s.Node.Index)).ToList();
        if (spec.Targets is null) return sites.Count == all.Count && sites.Count > 0 ? ["*"] : [.. sites.Select(s => s.Name)];
        if (spec.Targets.Count == 0)
            throw new ModelSpecException("Targets", "names no site glob; leave it unset for every site the features depend on");
        foreach (var glob in spec.Targets)
        {
            if (sites.Any(s => SiteGlob.IsMatch(glob, s.Name))) continue;
            throw new ModelSpecException("Targets", all.Any(s => SiteGlob.IsMatch(glob, s.Name))
                ? $"'{glob}' matches only sites after the feature node '{featureValue}', which the features do not depend on"
                : sites.Count == 0
                    ? $"'{glob}' matches no site: the features depend on no LoRA site (a MatMul, Gemm or Conv with an initializer weight)"
                    : $"'{glob}' matches no LoRA site; the sites are {string.Join(", ", sites.Take(8).Select(s => s.Name))}{(sites.Count > 8 ? ", …" : "")}");
        }
        return spec.Targets;
    }

    /// <summary>Indices of the nodes <paramref name="value"/> is computed from.</summary>
    static HashSet<int> Upstream(OnnxGraph graph, string value)
    {
        var producer = new Dictionary<string, OnnxNode>();
        foreach (var n in graph.Nodes)
            foreach (var o in n.Outputs) producer[o] = n;
        var seen = new HashSet<int>();
        var pending = new Stack<string>([value]);
        while (pending.TryPop(out var v))
            if (producer.TryGetValue(v, out var node) && seen.Add(node.Index))
                foreach (var i in node.Inputs) pending.Push(i);
        return seen;
    }

    /// <summary>Exports often pin the batch (and sequence) size of their sample input; both are free here.</summary>
    static void RelaxBatch(GraphExecutor executor, Modality modality)
    {
        foreach (var input in executor.Graph.Inputs)
            if (modality == Modality.Text) executor.RelaxInputDims(input.Name, 0, 1);
            else executor.RelaxInputDims(input.Name, 0);
    }

    static string Name(Modality modality) => modality.ToString().ToLowerInvariant();
}
