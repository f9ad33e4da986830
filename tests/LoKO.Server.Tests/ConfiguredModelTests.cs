using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Grpc.Core;
using LoKO.Contracts.V1;
using Xunit.Abstractions;

namespace LoKO.Server.Tests;

/// <summary>
/// Base models of LoKO:Models, built by the test as small ONNX files: listed with their sites over REST and gRPC,
/// served to tenants that learn and predict, restored after a restart, and refused when the file changed.
/// </summary>
public sealed class ConfiguredModelTests(ITestOutputHelper output) : IDisposable
{
    static readonly (string Text, string Label)[] Examples = TwoWordTexts(48);

    /// <summary>
    /// Two words of one topic, alternating topics. A model with random weights knows no meaning, so the texts carry
    /// nothing but their topic's words (the longer <see cref="TopicExamples"/> mostly carry shared words and numbers).
    /// </summary>
    static (string Text, string Label)[] TwoWordTexts(int count)
    {
        string[][] words =
        [
            ["printer", "driver", "database", "server", "network", "cable", "laptop", "battery", "kernel", "update", "graphics", "card", "usb", "port", "wifi", "router"],
            ["olive", "oil", "ramen", "noodles", "grilled", "cheese", "tomato", "soup", "apple", "pie", "fried", "rice", "lentil", "curry", "banana", "bread"],
        ];
        var random = new Random(5);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var topic = words[i % 2];
            return ($"{topic[random.Next(topic.Length)]} {topic[random.Next(topic.Length)]}", i % 2 == 0 ? "computers" : "food");
        })];
    }

    readonly string _directory = Directory.CreateTempSubdirectory("loko-models-").FullName;

    string[] TextModelArguments(string model, string vocab) =>
    [
        $"--LoKO:Models:tiny-text:Path={model}",
        $"--LoKO:Models:tiny-text:Vocab={vocab}",
        "--LoKO:Models:tiny-text:Features:Node=hidden",
    ];

    string[] ImageModelArguments(string model) =>
    [
        $"--LoKO:Models:tiny-image:Path={model}",
        "--LoKO:Models:tiny-image:Image:Mean:0=0.5", "--LoKO:Models:tiny-image:Image:Mean:1=0.5", "--LoKO:Models:tiny-image:Image:Mean:2=0.5",
        "--LoKO:Models:tiny-image:Image:Std:0=0.25", "--LoKO:Models:tiny-image:Image:Std:1=0.25", "--LoKO:Models:tiny-image:Image:Std:2=0.25",
        "--LoKO:Models:tiny-image:Features:Node=features",
        "--LoKO:Models:tiny-image:Targets:0=conv2",
    ];

    [Fact]
    public async Task ConfiguredModelsAreListedWithTheirSitesAndServeTenantsThatLearn()
    {
        var (textModel, vocab) = TinyOnnxModels.WriteText(_directory, seed: 1, Examples.Select(e => e.Text));
        var imageModel = TinyOnnxModels.WriteImage(_directory, seed: 1);
        await using var server = await LoKOTestServer.StartAsync(null, [.. TextModelArguments(textModel, vocab), .. ImageModelArguments(imageModel)]);

        var (listed, models) = await server.SendAsync(HttpMethod.Get, "/v1/models", LoKOTestServer.AdminKey);
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        var byName = models.EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Equal(["minilm-l6", "resnet18", "tiny-image", "tiny-text"], byName.Keys.Order());
        Assert.True(byName["minilm-l6"].GetProperty("builtIn").GetBoolean());
        Assert.NotEmpty(byName["resnet18"].GetProperty("sites").EnumerateArray());

        var text = byName["tiny-text"];
        Assert.False(text.GetProperty("builtIn").GetBoolean());
        Assert.Equal("text", text.GetProperty("modality").GetString());
        Assert.Equal(Sha256(textModel), text.GetProperty("sha256").GetString());
        Assert.Equal(16, text.GetProperty("maxTokens").GetInt32());
        Assert.Equal("hidden", text.GetProperty("features").GetProperty("node").GetString());
        Assert.Equal("mean", text.GetProperty("features").GetProperty("pooling").GetString());
        Assert.Equal(TinyOnnxModels.Hidden, text.GetProperty("features").GetProperty("dim").GetInt64());
        // Unset targets: every site the features depend on, not the classifier after them.
        Assert.Equal(["layer1", "layer2"], Strings(text.GetProperty("defaultTargets")));
        Assert.Equal(["layer1 MatMul 32→32 True", "layer2 MatMul 32→32 True", "classifier MatMul 32→2 False"], Sites(text));

        var image = byName["tiny-image"];
        Assert.Equal("image", image.GetProperty("modality").GetString());
        Assert.Equal(Sha256(imageModel), image.GetProperty("sha256").GetString());
        Assert.Equal(8, image.GetProperty("imageSize").GetInt32());
        Assert.Equal("globalAverage", image.GetProperty("features").GetProperty("pooling").GetString());
        Assert.Equal(8, image.GetProperty("features").GetProperty("dim").GetInt64());
        Assert.Equal(["conv2"], Strings(image.GetProperty("defaultTargets")));
        Assert.Equal(["conv1 Conv 3→4 False", "conv2 Conv 4→8 True"], Sites(image));

        var (anonymous, _) = await server.SendAsync(HttpMethod.Get, "/v1/models", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var grpcModels = (await server.Grpc.ListModelsAsync(new ListModelsRequest(), LoKOTestServer.Bearer(LoKOTestServer.AdminKey))).Models;
        Assert.Equal(byName.Keys, grpcModels.Select(m => m.Name));
        var grpcText = grpcModels.Single(m => m.Name == "tiny-text");
        Assert.Equal(Sha256(textModel), grpcText.Sha256);
        Assert.Equal(("hidden", "mean", 32L), (grpcText.FeatureNode, grpcText.Pooling, grpcText.FeatureDim));
        Assert.Equal(Sites(text), grpcText.Sites.Select(s => $"{s.Name} {s.Kind} {s.InFeatures}→{s.OutFeatures} {(s.ByDefault ? "True" : "False")}"));

        // An unknown preset is a 400 naming preset, with what this server offers.
        var (unknown, problem) = await server.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            new { tenantId = "nowhere", preset = "tiny", labels = new[] { "a", "b" } });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        var presetError = problem.GetProperty("errors").GetProperty("preset")[0].GetString()!;
        Assert.Contains("'tiny'", presetError);
        Assert.Contains("minilm-l6, resnet18, tiny-image, tiny-text", presetError);
        var grpcUnknown = await Assert.ThrowsAsync<RpcException>(() => server.Grpc.CreateTenantAsync(
            new CreateTenantRequest { TenantId = "nowhere", Preset = "tiny", Labels = { "a", "b" } }, LoKOTestServer.Bearer(LoKOTestServer.AdminKey)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, grpcUnknown.StatusCode);
        Assert.Equal("preset", grpcUnknown.Trailers.GetValue("field"));

        await LearnTextAsync(server, "words", Examples[..40], textModel);
        await LearnImagesAsync(server, "pictures");
    }

    async Task LearnTextAsync(LoKOTestServer server, string tenantId, (string Text, string Label)[] examples, string model)
    {
        var key = await CreateAsync(server, tenantId, "tiny-text", ["computers", "food"]);
        var (_, described) = await server.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenantId}", key);
        Assert.Equal("tiny-text", described.GetProperty("preset").GetString());
        Assert.Equal(Sha256(model), described.GetProperty("modelSha256").GetString());
        Assert.Equal(["layer1", "layer2"], Strings(described.GetProperty("lora").GetProperty("targets")));
        var grpcTenant = await server.Grpc.GetTenantAsync(new TenantRef { TenantId = tenantId }, LoKOTestServer.Bearer(key));
        Assert.Equal(Sha256(model), grpcTenant.ModelSha256);

        // Asked on the first 16 learned texts, before and after.
        double before = await MeanCorrectProbabilityAsync(server, tenantId, key, examples[..16]);
        var (posted, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenantId}/examples", key,
            examples.Select(e => new { text = e.Text, label = e.Label }).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        var learned = await server.WaitForAppliedAsync(tenantId, key, examples.Length);
        Assert.Equal(examples.Length, learned.GetProperty("examplesApplied").GetInt64());
        double after = await MeanCorrectProbabilityAsync(server, tenantId, key, examples[..16]);
        output.WriteLine($"{tenantId}: mean probability of the right label {before:F3} before, {after:F3} after {examples.Length} examples; online accuracy {learned.GetProperty("onlineAccuracy")}");
        Assert.True(after > before + 0.1, $"learning did not help: {before:F3} → {after:F3}");
    }

    /// <summary>Dark and bright 8×8 grey images, alternating; a tenant on tiny-image learns which is which.</summary>
    async Task LearnImagesAsync(LoKOTestServer server, string tenantId)
    {
        var key = await CreateAsync(server, tenantId, "tiny-image", ["dark", "bright"]);
        var random = new Random(3);
        object Picture(bool bright) => new { width = 8, height = 8, values = Enumerable.Range(0, 64).Select(_ => (double)(bright ? random.Next(150, 256) : random.Next(0, 106))).ToArray() };
        var examples = Enumerable.Range(0, 30).Select(i => new { pixels = Picture(i % 2 == 1), label = i % 2 == 1 ? "bright" : "dark" }).ToArray();
        var fresh = Enumerable.Range(0, 10).Select(i => (Pixels: Picture(i % 2 == 0), Label: i % 2 == 0 ? "bright" : "dark")).ToArray();

        async Task<(int Right, double Probability)> AskAsync()
        {
            int right = 0;
            double probability = 0;
            foreach (var (pixels, label) in fresh)
            {
                var (predicted, prediction) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenantId}/predict", key, new { pixels });
                Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
                if (prediction.GetProperty("label").GetString() == label) right++;
                probability += prediction.GetProperty("probabilities").GetProperty(label).GetDouble() / fresh.Length;
            }
            return (right, probability);
        }

        var before = await AskAsync();
        var (posted, _) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenantId}/examples", key, examples);
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await server.WaitForAppliedAsync(tenantId, key, examples.Length);
        var after = await AskAsync();
        output.WriteLine($"{tenantId}: {before.Right} of 10 fresh pictures right before (mean probability of the right label {before.Probability:F3}), " +
                         $"{after.Right} after {examples.Length} examples ({after.Probability:F3})");
        Assert.True(after.Right >= 9, $"only {after.Right} of 10 fresh pictures right");
        Assert.True(after.Probability > before.Probability + 0.2, $"learning did not help: {before.Probability:F3} → {after.Probability:F3}");
    }

    [Fact]
    public async Task ATenantIsRestoredOnItsModelAndRefusedOnceTheFileChanges()
    {
        var (model, vocab) = TinyOnnxModels.WriteText(_directory, seed: 1, Examples.Select(e => e.Text));
        var data = Path.Combine(_directory, "data");
        var arguments = TextModelArguments(model, vocab);
        string key;
        float[] theta;
        double probability;
        await using (var server = await LoKOTestServer.StartAsync(data, arguments))
        {
            key = await CreateAsync(server, "kept", "tiny-text", ["computers", "food"]);
            await server.SendAsync(HttpMethod.Post, "/v1/tenants/kept/examples", key, Examples[..12].Select(e => new { text = e.Text, label = e.Label }).ToArray());
            await server.WaitForAppliedAsync("kept", key, 12);
            var (checkpointed, _) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/kept/checkpoints", key);
            Assert.Equal(HttpStatusCode.Created, checkpointed.StatusCode);
            theta = await server.DownloadThetaAsync("kept", key);
            probability = await ProbabilityAsync(server, "kept", key, Examples[0]);
        }

        await using (var server = await LoKOTestServer.StartAsync(data, arguments))
        {
            var (_, tenant) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/kept", key);
            Assert.Equal(1, tenant.GetProperty("checkpointVersion").GetInt64());
            Assert.Equal(12, tenant.GetProperty("examplesApplied").GetInt64());
            Assert.Equal(theta, await server.DownloadThetaAsync("kept", key));
            Assert.Equal(probability, await ProbabilityAsync(server, "kept", key, Examples[0]), 12);
        }

        // The same name, another file (same shapes, other weights): the server starts, the tenant is not loaded.
        string original = Sha256(model);
        TinyOnnxModels.WriteText(_directory, seed: 2, Examples.Select(e => e.Text));
        string changed = Sha256(model);
        Assert.NotEqual(original, changed);
        await using (var server = await LoKOTestServer.StartAsync(data, arguments))
        {
            var (refused, problem) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/kept", key);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            var detail = problem.GetProperty("detail").GetString()!;
            output.WriteLine(detail);
            Assert.Contains("'tiny-text'", detail);
            Assert.Contains(original, detail);
            Assert.Contains(changed, detail);
            var (predicted, _) = await server.SendAsync(HttpMethod.Post, "/v1/tenants/kept/predict", key, new { text = Examples[0].Text });
            Assert.Equal(HttpStatusCode.Conflict, predicted.StatusCode);
            var grpc = await Assert.ThrowsAsync<RpcException>(() => server.Grpc.GetTenantAsync(new TenantRef { TenantId = "kept" }, LoKOTestServer.Bearer(key)).ResponseAsync);
            Assert.Equal(StatusCode.FailedPrecondition, grpc.StatusCode);
            Assert.Contains(changed, grpc.Status.Detail);
            // New tenants take the new file.
            var fresh = await CreateAsync(server, "fresh", "tiny-text", ["computers", "food"]);
            var (_, described) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/fresh", fresh);
            Assert.Equal(changed, described.GetProperty("modelSha256").GetString());
        }

        // Without the model registered at all.
        await using (var server = await LoKOTestServer.StartAsync(data))
        {
            var (refused, problem) = await server.SendAsync(HttpMethod.Get, "/v1/tenants/kept", key);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("does not offer", problem.GetProperty("detail").GetString());
            Assert.Contains("LoKO:Models:tiny-text:Path", problem.GetProperty("detail").GetString());
        }
    }

    static async Task<string> CreateAsync(LoKOTestServer server, string tenantId, string preset, string[] labels)
    {
        var (created, body) = await server.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            new { tenantId, preset, labels, lora = new { rank = 2 }, seed = 7 });
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"{(int)created.StatusCode}: {body}");
        return body.GetProperty("apiKey").GetString()!;
    }

    static async Task<double> MeanCorrectProbabilityAsync(LoKOTestServer server, string tenantId, string key, (string Text, string Label)[] examples)
    {
        double sum = 0;
        foreach (var e in examples) sum += await ProbabilityAsync(server, tenantId, key, e);
        return sum / examples.Length;
    }

    static async Task<double> ProbabilityAsync(LoKOTestServer server, string tenantId, string key, (string Text, string Label) example)
    {
        var (response, prediction) = await server.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenantId}/predict", key, new { text = example.Text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return prediction.GetProperty("probabilities").GetProperty(example.Label).GetDouble();
    }

    static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    static string[] Sites(JsonElement model) =>
        [.. model.GetProperty("sites").EnumerateArray().Select(s =>
            $"{s.GetProperty("name").GetString()} {s.GetProperty("kind").GetString()} {s.GetProperty("inFeatures").GetInt64()}→{s.GetProperty("outFeatures").GetInt64()} {s.GetProperty("byDefault").GetBoolean()}")];

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
