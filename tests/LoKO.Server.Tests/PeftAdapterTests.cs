using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using LoKO.Engine.Checkpoints;
using static TorchSharp.torch;
using V1 = LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

/// <summary>Adapters in Hugging Face PEFT format: export, import, the layout PEFT writes, and refusals naming the field.</summary>
[Collection(SharedServerCollection.Name)]
public class PeftAdapterTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    static readonly string[] Texts = ["my laptop will not boot", "a recipe for tomato soup", "the disk is full again"];

    static JsonElement Fixture { get; } =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "peft-minilm-l6-r2.json"))).RootElement;

    /// <summary>A minilm-l6 tenant (rank 2) that has learned a few examples, so B and the head are no longer at their initial values.</summary>
    async Task<string> TrainedTenantAsync(string tenantId)
    {
        var key = await S.CreateTenantAsync(tenantId);
        var (response, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenantId}/examples", key, new object[]
        {
            new { text = "bake the bread for forty minutes", label = "food" },
            new { text = "reboot the server and check the disk", label = "computers" },
            new { text = "a recipe for tomato soup", label = "food" },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await S.WaitForAppliedAsync(tenantId, key, 3);
        return key;
    }

    async Task<byte[]> ExportAsync(string tenantId, string key)
    {
        var response = await S.Http.SendAsync(S.Request(HttpMethod.Get, $"/v1/tenants/{tenantId}/adapter?format=peft", key));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsByteArrayAsync();
    }

    Task<(HttpResponseMessage Response, JsonElement Body)> ImportAsync(string tenantId, byte[] zip, string[]? labels = null, object? lora = null) =>
        S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            new { tenantId, preset = "minilm-l6", labels = labels ?? ["computers", "food"], lora, adapter = Convert.ToBase64String(zip) });

    async Task<Dictionary<string, double>[]> PredictAsync(string tenantId, string key)
    {
        var answers = new List<Dictionary<string, double>>();
        foreach (var text in Texts)
        {
            var (response, body) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenantId}/predict", key, new { text });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            answers.Add(body.GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble()));
        }
        return [.. answers];
    }

    [Fact]
    public async Task AnExportedAdapterImportsIntoATenantThatPredictsTheSame()
    {
        var key = await TrainedTenantAsync("peft-source");
        var zip = await ExportAsync("peft-source", key);

        var (created, body) = await ImportAsync("peft-copy", zip);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var copyKey = body.GetProperty("apiKey").GetString()!;

        var (_, description) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/peft-copy", copyKey);
        var lora = description.GetProperty("lora");
        Assert.Equal(2, lora.GetProperty("rank").GetInt32());
        Assert.Equal(16, lora.GetProperty("alpha").GetDouble());
        Assert.Equal(12, lora.GetProperty("targets").GetArrayLength());

        Assert.Equal(await S.DownloadThetaAsync("peft-source", key), await S.DownloadThetaAsync("peft-copy", copyKey));
        var expected = await PredictAsync("peft-source", key);
        var actual = await PredictAsync("peft-copy", copyKey);
        for (int i = 0; i < Texts.Length; i++)
            foreach (var (label, p) in expected[i])
                Assert.InRange(actual[i][label], p - 1e-6, p + 1e-6);

        // The copy exports the very tensors it was created from.
        Assert.Equal(Tensors(zip).Data, Tensors(await ExportAsync("peft-copy", copyKey)).Data);
    }

    [Fact]
    public async Task ExportedNamesAndShapesAreThoseOfPeftsLayout()
    {
        var key = await S.CreateTenantAsync("peft-layout");
        var zip = await ExportAsync("peft-layout", key);
        using (var archive = new ZipArchive(new MemoryStream(zip)))
            Assert.Equal(["adapter_config.json", "adapter_model.safetensors"], archive.Entries.Select(e => e.FullName).Order());

        var (shapes, metadata, dtypes, _) = Tensors(zip);
        var expected = Fixture.GetProperty("tensors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(d => d.GetInt64()).ToArray());
        Assert.Equal(expected.Keys.Order(), shapes.Keys.Order());
        foreach (var (name, shape) in expected) Assert.Equal(shape, shapes[name]);
        Assert.All(dtypes.Values, d => Assert.Equal("F32", d));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Fixture.GetProperty("safetensorsMetadata").GetRawText()), JsonNode.Parse(metadata)), metadata);

        var config = JsonNode.Parse(Entry(zip, "adapter_config.json"))!.AsObject();
        var accepted = Fixture.GetProperty("configKeys").EnumerateArray().Select(k => k.GetString()).ToHashSet();
        Assert.All(config.Select(kv => kv.Key), k => Assert.Contains(k, accepted));
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal(2, config["r"]!.GetValue<int>());
        Assert.Equal(16, config["lora_alpha"]!.GetValue<double>());
        Assert.Equal("none", config["bias"]!.GetValue<string>());
        Assert.False(config["fan_in_fan_out"]!.GetValue<bool>());
        Assert.Equal("sentence-transformers/all-MiniLM-L6-v2", config["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(["classifier"], config["modules_to_save"]!.AsArray().Select(m => m!.GetValue<string>()));
        var modules = expected.Keys.Where(k => k.EndsWith(".lora_A.weight")).Select(k => k["base_model.model.".Length..^".lora_A.weight".Length]);
        Assert.Equal(modules.Order(), config["target_modules"]!.AsArray().Select(m => m!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task GrpcExportsAndImportsTheSameZip()
    {
        var key = await TrainedTenantAsync("peft-grpc-source");
        var exported = await S.Grpc.ExportPeftAdapterAsync(new V1.TenantRef { TenantId = "peft-grpc-source" }, LoKOTestServer.Bearer(key));
        Assert.Equal(3, exported.AdapterVersion);
        Assert.Equal(Tensors(await ExportAsync("peft-grpc-source", key)).Data, Tensors(exported.Zip.ToByteArray()).Data);

        var request = new V1.CreateTenantRequest { TenantId = "peft-grpc-copy", Preset = "minilm-l6", Adapter = exported.Zip };
        request.Labels.Add(["computers", "food"]);
        var created = await S.Grpc.CreateTenantAsync(request, LoKOTestServer.Bearer(LoKOTestServer.AdminKey));
        Assert.Equal(await S.DownloadThetaAsync("peft-grpc-source", key), await S.DownloadThetaAsync("peft-grpc-copy", created.ApiKey));

        var wrong = new V1.CreateTenantRequest { TenantId = "peft-grpc-wrong", Preset = "minilm-l6", Adapter = ByteString.CopyFromUtf8("not a zip") };
        wrong.Labels.Add(["computers", "food"]);
        var e = await Assert.ThrowsAsync<RpcException>(() => S.Grpc.CreateTenantAsync(wrong, LoKOTestServer.Bearer(LoKOTestServer.AdminKey)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("adapter", e.Status.Detail);
    }

    [Fact]
    public async Task MalformedAdaptersAreRejectedNamingTheField()
    {
        var key = await S.CreateTenantAsync("peft-malformed-source");
        var zip = await ExportAsync("peft-malformed-source", key);
        const string weights = "adapter.adapter_model.safetensors";
        const string query = "base_model.model.encoder.layer.0.attention.self.query.lora_A.weight";

        await Rejected("peft-bad-1", Encoding.UTF8.GetBytes("not a zip"), "adapter");
        await Rejected("peft-bad-2", Rezip(zip, config: null, tensors: t => t), "adapter.adapter_config.json");
        await Rejected("peft-bad-3", Rezip(zip, c => c, tensors: null), weights);
        await Rejected("peft-bad-4", Rezip(zip, c => c, t => Replace(t, query, zeros(2, 383))), $"{weights}.{query}");
        await Rejected("peft-bad-5", Rezip(zip, c => c, t => t.Where(kv => kv.Key != query).ToDictionary()), $"{weights}.{query}");
        await Rejected("peft-bad-6", Rezip(zip, c => c, t => t.ToDictionary(kv => kv.Key.Replace("base_model.model.", "bert."), kv => kv.Value)), weights);
        await Rejected("peft-bad-7", Rezip(zip, c => Set(c, "r", 0), t => t), "adapter.adapter_config.json.r");
        await Rejected("peft-bad-8", Rezip(zip, c => Set(c, "use_dora", true), t => t), "adapter.adapter_config.json.use_dora");
        await Rejected("peft-bad-9", Rezip(zip, c => Set(c, "target_modules", new JsonArray("encoder.layer.0.nothing")), t => t),
            "adapter.adapter_config.json.target_modules");
        await Rejected("peft-bad-10", Rezip(zip, c => Set(c, "peft_type", "IA3"), t => t), "adapter.adapter_config.json.peft_type");
        await Rejected("peft-bad-11", zip, "labels", labels: ["computers", "food", "travel"]);
        await Rejected("peft-bad-12", zip, "lora.rank", lora: new { rank = 4 });
        await Rejected("peft-bad-13", zip, "lora.targets", lora: new { targets = new[] { "encoder.layer.*.attention.self.query" } });
        // An end record that counts more entries than the central directory holds (found by the fuzzer: a 500).
        var miscounted = (byte[])zip.Clone();
        miscounted[^14] = miscounted[^12] = 3; // the end record's entries on this disk and in all
        await Rejected("peft-bad-15", miscounted, "adapter");

        var (invalid, body) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey,
            rawJson: """{"tenantId":"peft-bad-14","preset":"minilm-l6","labels":["a","b"],"adapter":"%%% not base64"}""");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.True(body.GetProperty("errors").TryGetProperty("adapter", out _), body.ToString());

        var (format, formatBody) = await S.SendAsync(HttpMethod.Get, "/v1/tenants/peft-malformed-source/adapter?format=onnx", key);
        Assert.Equal(HttpStatusCode.BadRequest, format.StatusCode);
        Assert.True(formatBody.GetProperty("errors").TryGetProperty("format", out _), formatBody.ToString());
    }

    async Task Rejected(string tenantId, byte[] zip, string field, string[]? labels = null, object? lora = null)
    {
        var (response, body) = await ImportAsync(tenantId, zip, labels, lora);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{tenantId}: {(int)response.StatusCode} {body}");
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), $"{tenantId}: expected an error on '{field}': {body}");
        var (missing, _) = await S.SendAsync(HttpMethod.Get, $"/v1/tenants/{tenantId}", LoKOTestServer.AdminKey);
        Assert.NotEqual(HttpStatusCode.OK, missing.StatusCode);
    }

    static string Set(string config, string key, JsonNode? value)
    {
        var json = JsonNode.Parse(config)!.AsObject();
        json[key] = value;
        return json.ToJsonString();
    }

    static Dictionary<string, Tensor> Replace(Dictionary<string, Tensor> tensors, string key, Tensor value)
    {
        tensors[key] = value;
        return tensors;
    }

    /// <summary>The zip again with its config and tensors changed; a null function leaves that file out.</summary>
    static byte[] Rezip(byte[] zip, Func<string, string>? config, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>>? tensors)
    {
        using var buffer = new MemoryStream();
        using (var archive = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            if (config is not null)
                using (var w = new StreamWriter(archive.CreateEntry("adapter_config.json").Open()))
                    w.Write(config(Encoding.UTF8.GetString(Entry(zip, "adapter_config.json"))));
            if (tensors is not null)
            {
                var read = SafetensorsCodec.Read(new MemoryStream(Entry(zip, "adapter_model.safetensors")));
                using var s = archive.CreateEntry("adapter_model.safetensors").Open();
                SafetensorsCodec.Write(s, tensors(read.Tensors), read.Metadata);
            }
        }
        return buffer.ToArray();
    }

    static byte[] Entry(byte[] zip, string name)
    {
        using var archive = new ZipArchive(new MemoryStream(zip));
        using var stream = archive.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// The safetensors file of a zip, read by hand (independent of the server's codec): shapes, metadata and dtype
    /// by name, and each tensor's raw bytes as a string for comparisons.
    /// </summary>
    static (Dictionary<string, long[]> Shapes, string Metadata, Dictionary<string, string> Dtypes, SortedDictionary<string, string> Data) Tensors(byte[] zip)
    {
        var file = Entry(zip, "adapter_model.safetensors");
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var shapes = new Dictionary<string, long[]>();
        var dtypes = new Dictionary<string, string>();
        var data = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string metadata = "";
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") { metadata = entry.Value.ToString(); continue; }
            shapes[entry.Name] = [.. entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())];
            dtypes[entry.Name] = entry.Value.GetProperty("dtype").GetString()!;
            var offsets = entry.Value.GetProperty("data_offsets");
            int start = (int)(8 + headerLength + offsets[0].GetInt64()), end = (int)(8 + headerLength + offsets[1].GetInt64());
            data[entry.Name] = Convert.ToBase64String(file, start, end - start);
        }
        return (shapes, metadata, dtypes, data);
    }
}
