using System.Globalization;
using System.Text.Json;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>
/// One tenant's predictions kept for feedback, in the metadata store (table pending_predictions), so a restart, an
/// eviction or a move to another silo keeps them. A prediction's input, the label it showed and its probabilities
/// are kept for <c>LoKO:PredictionTtlSeconds</c>, at most <c>LoKO:MaxPendingPredictions</c> per tenant (the oldest
/// dropped first). Feedback turns one into a logged example exactly once: its idempotency key is
/// <see cref="ExampleIdOf"/>, so a repeat is answered with the original sequence, also after the row is gone.
/// </summary>
public sealed class PendingPredictions(string tenantId, IDbContextFactory<LoKODbContext> db, double ttlSeconds, int max)
{
    public const string ExampleIdPrefix = "prediction:";

    // Expired rows are swept at most this often (and always counted as absent).
    static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    readonly SemaphoreSlim _gate = new(1, 1);
    long _count = -1; // rows of this tenant, as far as this activation knows; -1 = not counted yet
    DateTime _nextSweepUtc = DateTime.MinValue;

    /// <summary>Whether predictions are kept at all (both settings positive).</summary>
    public bool Enabled => max > 0 && ttlSeconds > 0;

    public static string ExampleIdOf(string predictionId) => ExampleIdPrefix + predictionId;

    /// <summary>Keeps a prediction durably; returns its id, or null when predictions are not kept.</summary>
    public async Task<string?> AddAsync(StoredPayload input, int predictedIndex, double[] probabilities, long adapterVersion)
    {
        if (!Enabled) return null;
        var id = Guid.NewGuid().ToString("N");
        var now = DateTime.UtcNow;
        await _gate.WaitAsync();
        try
        {
            await using var context = await db.CreateDbContextAsync();
            var mine = context.PendingPredictions.Where(p => p.TenantId == tenantId);
            if (now >= _nextSweepUtc)
            {
                await mine.Where(p => p.ExpiresUtc <= now).ExecuteDeleteAsync();
                _count = -1;
                _nextSweepUtc = now + SweepInterval;
            }
            if (_count < 0) _count = await mine.LongCountAsync();

            context.PendingPredictions.Add(new PendingPredictionRecord
            {
                TenantId = tenantId, PredictionId = id,
                PayloadKind = input.Kind, Payload = input.Bytes, Width = input.Width, Height = input.Height,
                PredictedIndex = predictedIndex, ProbabilitiesJson = JsonSerializer.Serialize(probabilities),
                AdapterVersion = adapterVersion, CreatedUtc = now, ExpiresUtc = now.AddSeconds(ttlSeconds),
            });
            await context.SaveChangesAsync();
            _count++;

            if (_count > max)
            {
                var oldest = await mine.OrderBy(p => p.Id).Select(p => p.Id).Take((int)Math.Min(_count - max, int.MaxValue)).ToListAsync();
                long last = oldest[^1];
                _count -= await mine.Where(p => p.Id <= last).ExecuteDeleteAsync();
            }
            return id;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The label of prediction <paramref name="predictionId"/>: appended (through <paramref name="append"/>) as an
    /// example scored by what the prediction showed, then the kept row is removed. A prediction that had feedback
    /// before answers its original sequence as a duplicate; one that is not kept throws <see cref="PredictionNotFoundException"/>.
    /// </summary>
    public async Task<AppendOutcome> FeedbackAsync(string predictionId, string label, int labelIndex,
                                                   Func<IReadOnlyList<NewExample>, Task<IReadOnlyList<AppendOutcome>>> append, CancellationToken ct)
    {
        var exampleId = ExampleIdOf(predictionId);
        var now = DateTime.UtcNow;
        PendingPredictionRecord? kept;
        await using (var context = await db.CreateDbContextAsync(ct))
        {
            kept = await context.PendingPredictions.AsNoTracking()
                .SingleOrDefaultAsync(p => p.TenantId == tenantId && p.PredictionId == predictionId && p.ExpiresUtc > now, ct);
            if (kept is null)
            {
                // Feedback given before: the row went, its idempotency key stays.
                var sequence = await context.ExampleIds.AsNoTracking()
                    .Where(x => x.TenantId == tenantId && x.ExampleId == exampleId).Select(x => (long?)x.Sequence).SingleOrDefaultAsync(ct);
                if (sequence is { } s) return new AppendOutcome(s, Duplicate: true);
                throw new PredictionNotFoundException(predictionId, NotKeptReason());
            }
        }

        // The append's idempotency key makes this exactly once, also when two feedbacks race or a crash came
        // between the append and the row's removal below.
        var probabilities = JsonSerializer.Deserialize<double[]>(kept.ProbabilitiesJson) ?? [];
        double shownProbability = labelIndex < probabilities.Length ? probabilities[labelIndex] : 0;
        var shown = new ShownPrediction(kept.PredictedIndex, -Math.Log(Math.Max(shownProbability, double.Epsilon)));
        var payload = new StoredPayload(kept.PayloadKind, kept.Payload, kept.Width, kept.Height);
        var outcome = (await append([new NewExample(payload, label, labelIndex, exampleId, shown)]))[0];

        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            await using var context = await db.CreateDbContextAsync(CancellationToken.None);
            if (await context.PendingPredictions.Where(p => p.Id == kept.Id).ExecuteDeleteAsync(CancellationToken.None) > 0 && _count > 0) _count--;
        }
        catch (Exception e) when (StorageFaults.IsStorageFault(e))
        {
            // The example is logged; the row left behind expires, and a repeat is answered from the idempotency key.
        }
        finally
        {
            _gate.Release();
        }
        return outcome;
    }

    string NotKeptReason() =>
        Enabled
            ? $"unknown, expired (predictions are kept {ttlSeconds.ToString(CultureInfo.InvariantCulture)} s) or dropped " +
              $"(at most {max.ToString(CultureInfo.InvariantCulture)} are kept per tenant, the oldest dropped first)"
            : "this server keeps no predictions (LoKO:MaxPendingPredictions or LoKO:PredictionTtlSeconds is 0)";
}
