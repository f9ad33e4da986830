using System.Net;

namespace LoKO.Server.Tests;

/// <summary>The adagrad and sgd tenants on the shared server: learning rates and rollback onto their checkpointed state.</summary>
[Collection(SharedServerCollection.Name)]
public class GradientBaselineTests(SharedServer shared)
{
    static readonly (string Text, string Label)[] Examples = TopicExamples.Make(25);

    LoKOTestServer S => shared.Server;

    async Task PostAsync(string tenant, string key, Range range)
    {
        var batch = Examples[range].Select(e => new { text = e.Text, label = e.Label }).ToArray();
        var (response, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/examples", key, batch);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    async Task<string> CreateAsync(string tenant, string optimizer, double? learningRate = null)
    {
        var (response, body) = await S.SendAsync(HttpMethod.Post, "/v1/tenants", LoKOTestServer.AdminKey, new
        {
            tenantId = tenant, preset = "minilm-l6", labels = new[] { "computers", "food" }, optimizer, lora = new { rank = 2 }, seed = 5,
            filter = learningRate is null ? null : new { learningRate },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return body.GetProperty("apiKey").GetString()!;
    }

    /// <summary>
    /// Two tenants with one seed: one learns A then B; the other learns A, checkpoints, learns C, rolls back to the
    /// checkpoint and learns B. The checkpoint restores θ and the optimizer's state, so both end with the same θ.
    /// </summary>
    [Theory]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public async Task ARollbackContinuesFromTheCheckpointedOptimizerStateExactly(string optimizer)
    {
        string straight = $"{optimizer}-straight-run", rewound = $"{optimizer}-rewound";
        var straightKey = await CreateAsync(straight, optimizer);
        var rewoundKey = await CreateAsync(rewound, optimizer);

        await PostAsync(straight, straightKey, 0..10);
        await PostAsync(straight, straightKey, 10..20);
        await PostAsync(rewound, rewoundKey, 0..10);
        await S.WaitForAppliedAsync(rewound, rewoundKey, 10);
        var (created, checkpoint) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{rewound}/checkpoints", rewoundKey);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var atCheckpoint = await S.DownloadThetaAsync(rewound, rewoundKey);

        await PostAsync(rewound, rewoundKey, 20..25);
        await S.WaitForAppliedAsync(rewound, rewoundKey, 15);
        var (rolled, _) = await S.SendAsync(HttpMethod.Post, $"/v1/tenants/{rewound}/rollback", rewoundKey,
            new { version = checkpoint.GetProperty("version").GetInt64() });
        Assert.Equal(HttpStatusCode.OK, rolled.StatusCode);
        Assert.Equal(atCheckpoint, await S.DownloadThetaAsync(rewound, rewoundKey));
        await PostAsync(rewound, rewoundKey, 10..20);

        var straightTenant = await S.WaitForAppliedAsync(straight, straightKey, 20);
        var rewoundTenant = await S.WaitForAppliedAsync(rewound, rewoundKey, 20);
        Assert.Equal(optimizer, rewoundTenant.GetProperty("optimizer").GetString());
        Assert.Equal(0, straightTenant.GetProperty("examplesRejected").GetInt64());
        Assert.Equal(0, rewoundTenant.GetProperty("examplesRejected").GetInt64());
        var expected = await S.DownloadThetaAsync(straight, straightKey);
        var got = await S.DownloadThetaAsync(rewound, rewoundKey);
        Assert.NotEqual(atCheckpoint, got);
        double worst = expected.Zip(got).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1e-6, $"θ of the rolled-back {optimizer} tenant differs from the straight run by {worst:E2}");
    }

    /// <summary>filter.learningRate reaches the optimizer: the same seed and examples at another rate give another θ.</summary>
    [Theory]
    [InlineData("adagrad")]
    [InlineData("sgd")]
    public async Task TheLearningRateIsTheTenantsOrItsOptimizersDefault(string optimizer)
    {
        string byDefault = $"{optimizer}-default-rate", explicitDefault = $"{optimizer}-explicit-rate", other = $"{optimizer}-other-rate";
        var keys = new Dictionary<string, string>
        {
            [byDefault] = await CreateAsync(byDefault, optimizer),
            [explicitDefault] = await CreateAsync(explicitDefault, optimizer, learningRate: 1e-2),
            [other] = await CreateAsync(other, optimizer, learningRate: 1e-3),
        };
        var theta = new Dictionary<string, float[]>();
        foreach (var (tenant, key) in keys)
        {
            await PostAsync(tenant, key, 0..6);
            await S.WaitForAppliedAsync(tenant, key, 6);
            theta[tenant] = await S.DownloadThetaAsync(tenant, key);
        }
        Assert.Equal(theta[byDefault], theta[explicitDefault]);
        Assert.NotEqual(theta[byDefault], theta[other]);
    }
}
