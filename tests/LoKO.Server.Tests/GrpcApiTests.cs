using Grpc.Core;
using LoKO.Contracts.V1;

namespace LoKO.Server.Tests;

[Collection(SharedServerCollection.Name)]
public class GrpcApiTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    [Fact]
    public async Task CreateStreamPredictCheckpointAndExportOverGrpc()
    {
        var client = S.Grpc;
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        var created = await client.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "grpc-round-trip", Preset = "minilm-l6", Labels = { "computers", "food" },
            Lora = new LoraSettings { Rank = 2 },
        }, admin);
        Assert.Equal("grpc-round-trip", created.TenantId);
        var key = LoKOTestServer.Bearer(created.ApiKey);

        var sent = new (string Text, string Label, string Id)[]
        {
            ("the disk is full again", "computers", "g1"),
            ("slow-cooked beef stew", "food", "g2"),
            ("compile the kernel module", "computers", "g3"),
            ("slow-cooked beef stew", "food", "g2"),       // repeat: acknowledged as a duplicate
            ("lemon cake", "dessert", "g4"),              // not a label: INVALID, the stream goes on
            ("pancakes with syrup", "food", ""),
        };
        var acks = new List<Ack>();
        using (var call = client.Learn(key))
        {
            foreach (var (text, label, id) in sent)
            {
                await call.RequestStream.WriteAsync(new Example { TenantId = "grpc-round-trip", Input = new Input { Text = text }, Label = label, ExampleId = id });
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                acks.Add(call.ResponseStream.Current);
            }
            await call.RequestStream.CompleteAsync();
            Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        }
        Assert.Equal([AckStatus.Accepted, AckStatus.Accepted, AckStatus.Accepted, AckStatus.Duplicate, AckStatus.Invalid, AckStatus.Accepted], acks.Select(a => a.Status));
        Assert.Equal([1L, 2L, 3L, 2L, 0L, 4L], acks.Select(a => a.Sequence));
        Assert.Equal("label", acks[4].Field);

        var tenant = await client.GetTenantAsync(new TenantRef { TenantId = "grpc-round-trip" }, key);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (tenant.ExamplesApplied < 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            tenant = await client.GetTenantAsync(new TenantRef { TenantId = "grpc-round-trip" }, key);
        }
        Assert.Equal(4, tenant.ExamplesApplied);
        Assert.Equal(4, tenant.ExamplesAccepted);
        Assert.InRange(tenant.OnlineAccuracy, 0, 1);

        var prediction = await client.PredictAsync(new PredictRequest { TenantId = "grpc-round-trip", Input = new Input { Text = "my laptop overheats" } }, key);
        Assert.Contains(prediction.Label, new[] { "computers", "food" });
        Assert.Equal(1.0, prediction.Probabilities.Values.Sum(), 5);
        Assert.Equal(4, prediction.AdapterVersion);

        var checkpoint = await client.CheckpointAsync(new TenantRef { TenantId = "grpc-round-trip" }, key);
        Assert.Equal(4, checkpoint.LastAppliedSequence);
        var list = await client.ListCheckpointsAsync(new TenantRef { TenantId = "grpc-round-trip" }, key);
        Assert.Equal(checkpoint.Version, Assert.Single(list.Checkpoints).Version);

        var adapter = await client.ExportAdapterAsync(new TenantRef { TenantId = "grpc-round-trip" }, key);
        Assert.Equal(4, adapter.AdapterVersion);
        var theta = LoKOTestServer.ThetaOf(adapter.Safetensors.ToByteArray());
        Assert.Equal(theta, await S.DownloadThetaAsync("grpc-round-trip", created.ApiKey));
    }

    [Fact]
    public async Task ASeedGivenAtCreationIsTheTenantsSeed()
    {
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        var created = await S.Grpc.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "grpc-seeded", Preset = "minilm-l6", Labels = { "a", "b" }, Lora = new LoraSettings { Rank = 2 }, Seed = 12345,
        }, admin);
        var tenant = await S.Grpc.GetTenantAsync(new TenantRef { TenantId = "grpc-seeded" }, LoKOTestServer.Bearer(created.ApiKey));
        Assert.Equal(12345, tenant.Seed);

        var negative = await Assert.ThrowsAsync<RpcException>(() => S.Grpc.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "grpc-negative-seed", Preset = "minilm-l6", Labels = { "a", "b" }, Seed = -3,
        }, admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, negative.StatusCode);
        Assert.Equal("seed", negative.Trailers.GetValue("field"));
    }

    [Fact]
    public async Task TheTenantShowsItsFilterVariantAndOptimizer()
    {
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        async Task<Tenant> CreateAndGet(CreateTenantRequest request)
        {
            request.Preset = "minilm-l6";
            request.Labels.Add(["a", "b"]);
            request.Lora = new LoraSettings { Rank = 2 };
            var created = await S.Grpc.CreateTenantAsync(request, admin);
            return await S.Grpc.GetTenantAsync(new TenantRef { TenantId = request.TenantId }, LoKOTestServer.Bearer(created.ApiKey));
        }

        var unnamed = await CreateAndGet(new CreateTenantRequest { TenantId = "grpc-variant-default" });
        Assert.Equal(LoKO.Engine.Filter.LokoVariants.Default, unnamed.Filter.Variant);
        var paper = await CreateAndGet(new CreateTenantRequest { TenantId = "grpc-variant-paper", Filter = new FilterSettings { Variant = "paper", Beta = 0.9 } });
        Assert.Equal("paper", paper.Filter.Variant);
        Assert.Equal(0.9, paper.Filter.Beta);
        Assert.False(paper.Filter.HasR0);
        var adagrad = await CreateAndGet(new CreateTenantRequest { TenantId = "grpc-adagrad", Optimizer = "adagrad", Filter = new FilterSettings { LearningRate = 0.02 } });
        Assert.Equal("adagrad", adagrad.Optimizer);
        Assert.Equal(0.02, adagrad.Filter.LearningRate);
        Assert.False(adagrad.Filter.HasVariant);
    }

    [Fact]
    public async Task GrpcErrorsUseStatusCodesAndNameTheField()
    {
        var client = S.Grpc;
        var admin = LoKOTestServer.Bearer(LoKOTestServer.AdminKey);
        var created = await client.CreateTenantAsync(new CreateTenantRequest { TenantId = "grpc-errors", Preset = "minilm-l6", Labels = { "a", "b" } }, admin);
        var other = await client.CreateTenantAsync(new CreateTenantRequest { TenantId = "grpc-errors-other", Preset = "minilm-l6", Labels = { "a", "b" } }, admin);
        var key = LoKOTestServer.Bearer(created.ApiKey);

        async Task<RpcException> Fails(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);

        Assert.Equal(StatusCode.NotFound, (await Fails(() => client.GetTenantAsync(new TenantRef { TenantId = "grpc-nobody" }, admin).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => client.GetTenantAsync(new TenantRef { TenantId = "grpc-errors" }, LoKOTestServer.Bearer("wrong")).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => client.GetTenantAsync(new TenantRef { TenantId = "grpc-errors" }).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, (await Fails(() => client.GetTenantAsync(new TenantRef { TenantId = "grpc-errors-other" }, key).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, (await Fails(() => client.CreateTenantAsync(new CreateTenantRequest { TenantId = "x", Preset = "minilm-l6", Labels = { "a", "b" } }, key).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, (await Fails(() => client.CreateTenantAsync(new CreateTenantRequest { TenantId = "grpc-errors", Preset = "minilm-l6", Labels = { "a", "b" } }, admin).ResponseAsync)).StatusCode);

        var empty = await Fails(() => client.PredictAsync(new PredictRequest { TenantId = "grpc-errors", Input = new Input { Text = "" } }, key).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Equal("input.text", empty.Trailers.GetValue("field"));
        var image = await Fails(() => client.PredictAsync(new PredictRequest { TenantId = "grpc-errors", Input = new Input { Pixels = new Pixels { Width = 1, Height = 1, Values = { 3 } } } }, key).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, image.StatusCode);
        Assert.Equal("input.pixels", image.Trailers.GetValue("field"));
        var badLabels = await Fails(() => client.CreateTenantAsync(new CreateTenantRequest { TenantId = "grpc-one", Preset = "minilm-l6", Labels = { "a" } }, admin).ResponseAsync);
        Assert.Equal("labels", badLabels.Trailers.GetValue("field"));
        var badOptimizer = await Fails(() => client.CreateTenantAsync(new CreateTenantRequest { TenantId = "grpc-opt", Preset = "minilm-l6", Labels = { "a", "b" }, Optimizer = "rmsprop" }, admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badOptimizer.StatusCode);
        Assert.Equal("optimizer", badOptimizer.Trailers.GetValue("field"));
        var badVariant = await Fails(() => client.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "grpc-variant", Preset = "minilm-l6", Labels = { "a", "b" }, Filter = new FilterSettings { Variant = "no-such-variant" },
        }, admin).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badVariant.StatusCode);
        Assert.Equal("filter.variant", badVariant.Trailers.GetValue("field"));

        // A stream that switches tenants is ended with INVALID_ARGUMENT; other tenants' keys are refused.
        using (var call = client.Learn(key))
        {
            await call.RequestStream.WriteAsync(new Example { TenantId = "grpc-errors-other", Input = new Input { Text = "hi" }, Label = "a" });
            var denied = await Fails(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        }
        Assert.Equal(0, (await client.GetTenantAsync(new TenantRef { TenantId = "grpc-errors-other" }, LoKOTestServer.Bearer(other.ApiKey))).ExamplesAccepted);
    }

    /// <summary>
    /// A stream written as fast as possible is read ahead and committed in groups: each example still gets its own
    /// Ack, in order: invalid ones INVALID naming the field, repeated exampleIds DUPLICATE with the first sequence,
    /// valid ones consecutive sequences; and everything accepted is in the log.
    /// </summary>
    [Fact]
    public async Task AFastStreamIsAcknowledgedExampleByExampleInOrder()
    {
        const int count = 300;
        var client = S.Grpc;
        var created = await client.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = "grpc-groups", Preset = "minilm-l6", Labels = { "a", "b" }, Lora = new LoraSettings { Rank = 2 },
        }, LoKOTestServer.Bearer(LoKOTestServer.AdminKey));
        var key = LoKOTestServer.Bearer(created.ApiKey);

        static bool Invalid(int i) => i % 50 == 7;
        static bool Repeat(int i) => i % 30 == 29;
        var acks = new List<Ack>(count);
        using (var call = client.Learn(key))
        {
            var writing = Task.Run(async () =>
            {
                for (int i = 0; i < count; i++)
                    await call.RequestStream.WriteAsync(new Example
                    {
                        TenantId = "grpc-groups", Input = new Input { Text = $"example number {i}" },
                        Label = Invalid(i) ? "c" : i % 2 == 0 ? "a" : "b",
                        ExampleId = Repeat(i) ? $"e{i - 20}" : $"e{i}",
                    });
                await call.RequestStream.CompleteAsync();
            });
            await foreach (var ack in call.ResponseStream.ReadAllAsync()) acks.Add(ack);
            await writing;
        }

        Assert.Equal(count, acks.Count);
        var sequenceOf = new Dictionary<string, long>();
        long next = 1;
        for (int i = 0; i < count; i++)
        {
            var ack = acks[i];
            string id = Repeat(i) ? $"e{i - 20}" : $"e{i}";
            Assert.Equal(id, ack.ExampleId);
            if (Invalid(i))
            {
                Assert.Equal(AckStatus.Invalid, ack.Status);
                Assert.Equal("label", ack.Field);
            }
            else if (Repeat(i) && sequenceOf.TryGetValue(id, out var first))
            {
                Assert.Equal(AckStatus.Duplicate, ack.Status);
                Assert.Equal(first, ack.Sequence);
            }
            else
            {
                Assert.Equal(AckStatus.Accepted, ack.Status);
                Assert.Equal(next++, ack.Sequence);
                sequenceOf[id] = ack.Sequence;
            }
        }
        var tenant = await client.GetTenantAsync(new TenantRef { TenantId = "grpc-groups" }, key);
        Assert.Equal(next - 1, tenant.ExamplesAccepted);
    }
}
