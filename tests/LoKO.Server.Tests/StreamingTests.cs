using Grpc.Core;
using LoKO.Contracts.V1;
using LoKO.Engine.Data;

namespace LoKO.Server.Tests;

[Collection(SharedServerCollection.Name)]
public class StreamingTests(SharedServer shared)
{
    LoKOTestServer S => shared.Server;

    /// <summary>
    /// 1,000 short fortunes (computers vs food) over one Learn call: every one acknowledged in order, then learned in order.
    /// The slowest test here: 1,000 minilm-l6 steps take one to a few minutes on 2 cores.
    /// </summary>
    [Fact]
    public async Task AThousandStreamedExamplesAreAcknowledgedAndAppliedInOrder()
    {
        const int count = 1000;
        const string tenant = "grpc-thousand";
        var fortunes = FortuneCorpus.Load(DataPaths.FortunesDirectory(), ["computers", "food"])
            .Where(f => f.Text.Length <= 200).ToList();
        Assert.NotEmpty(fortunes);
        var stream = Enumerable.Range(0, count).Select(i => fortunes[i * 7919 % fortunes.Count]).ToList();

        var client = S.Grpc;
        var created = await client.CreateTenantAsync(new CreateTenantRequest
        {
            TenantId = tenant, Preset = "minilm-l6", Labels = { "computers", "food" }, Lora = new LoraSettings { Rank = 2 },
        }, LoKOTestServer.Bearer(LoKOTestServer.AdminKey));
        var key = LoKOTestServer.Bearer(created.ApiKey);

        var acks = new List<Ack>(count);
        using (var call = client.Learn(key))
        {
            var writing = Task.Run(async () =>
            {
                for (int i = 0; i < count; i++)
                    await call.RequestStream.WriteAsync(new Example
                    {
                        TenantId = tenant, Input = new Input { Text = stream[i].Text }, Label = stream[i].Category, ExampleId = $"f{i}",
                    });
                await call.RequestStream.CompleteAsync();
            });
            await foreach (var ack in call.ResponseStream.ReadAllAsync()) acks.Add(ack);
            await writing;
        }
        Assert.Equal(count, acks.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(AckStatus.Accepted, acks[i].Status);
            Assert.Equal(i + 1, acks[i].Sequence);
            Assert.Equal($"f{i}", acks[i].ExampleId);
        }

        // Steps run in sequence order: at every look, the last applied sequence is exactly the number of steps taken.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        long lastSeen = 0;
        while (true)
        {
            var t = await client.GetTenantAsync(new TenantRef { TenantId = tenant }, key);
            Assert.Equal(count, t.ExamplesAccepted);
            Assert.Equal(t.ExamplesApplied + t.ExamplesRejected, t.LastAppliedSequence);
            Assert.True(t.LastAppliedSequence >= lastSeen);
            lastSeen = t.LastAppliedSequence;
            if (t.LastAppliedSequence == count)
            {
                Assert.Equal(count, t.ExamplesApplied);
                Assert.Equal(0, t.ExamplesRejected);
                break;
            }
            if (DateTime.UtcNow > deadline) Assert.Fail($"only {t.LastAppliedSequence} of {count} examples applied in time");
            await Task.Delay(250);
        }
    }
}
