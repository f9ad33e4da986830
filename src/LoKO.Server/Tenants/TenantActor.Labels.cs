using System.Text.Json;
using LoKO.Contracts.Rest;
using LoKO.Contracts.Validation;
using LoKO.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace LoKO.Server.Tenants;

/// <summary>
/// Labels added to a live tenant. An addition joins the tenant's sequence after the last accepted example: the row
/// records it there (<see cref="LabelAddition"/>), and the head grows between that example and the next, live as in
/// every replay, so a restored tenant learns exactly as it did. Labels are never removed: a rollback or freeze to a
/// state from before an addition keeps the labels, and the state grows to them again at the same place.
/// </summary>
public sealed partial class TenantActor
{
    /// <summary>
    /// Adds labels (validated against the labels the tenant has now, under the append gate, so two additions or an
    /// addition and an append never interleave). Examples of the new labels are accepted as soon as this returns; the
    /// head grows once the examples accepted before it are learned (at once when none wait; a frozen tenant on resume).
    /// </summary>
    public Task<TenantResponse> AddLabelsAsync(IReadOnlyList<string> labels) => Enqueue(async () =>
    {
        await _appendGate.WaitAsync();
        try
        {
            if (_stop.IsCancellationRequested) throw new TenantNotFoundException(TenantId);
            var current = Settings;
            var errors = RequestValidator.ValidateNewLabels(labels, current.Labels, _s.Options.Limits);
            if (errors.Count > 0) throw new FieldValidationException(errors);
            try
            {
                await using var db = await _s.Db.CreateDbContextAsync();
                if (_appendUncertain) await AdoptLogTailAsync(db, CancellationToken.None);
                var addition = new LabelAddition(Interlocked.Read(ref _nextSequence) - 1, [.. labels]);
                var updated = current with { Labels = [.. current.Labels, .. labels], LabelAdditions = [.. current.Additions, addition] };
                var labelsJson = JsonSerializer.Serialize(updated.Labels, TenantSettings.Json);
                var additionsJson = JsonSerializer.Serialize(updated.Additions, TenantSettings.Json);
                int rows = await db.Tenants.Where(t => t.TenantId == TenantId).ExecuteUpdateAsync(s => s
                    .SetProperty(t => t.LabelsJson, labelsJson)
                    .SetProperty(t => t.LabelAdditionsJson, additionsJson));
                if (rows == 0) throw new TenantNotFoundException(TenantId);
                Volatile.Write(ref _settings, updated);
                _s.Logger.LogInformation("Tenant {Tenant}: added labels {Labels} after sequence {Sequence}; {Count} labels now",
                    TenantId, string.Join(", ", labels), addition.AfterSequence, updated.Labels.Count);
            }
            catch (Exception e) when (StorageFaults.IsStorageFault(e))
            {
                throw Unavailable("labels", e, "the labels could not be recorded and were not added");
            }
        }
        finally
        {
            _appendGate.Release();
        }
        await GrowDueAsync();
        return Describe();
    });

    /// <summary>The next addition the head does not have yet: where it joined and the classes the head has with it; null when none.</summary>
    (long AfterSequence, int Labels)? NextGrowth()
    {
        var settings = Settings;
        int labels = settings.InitialLabelCount, head = _adapter.Layout.Outputs;
        foreach (var addition in settings.Additions)
        {
            labels += addition.Labels.Count;
            if (labels > head) return (addition.AfterSequence, labels);
        }
        return null;
    }

    /// <summary>
    /// Loop: grows the head by each addition whose place has come: the next example to learn came after it, or none
    /// waits. Never while frozen: the log after the frozen state is learned again on resume, and the additions with it.
    /// </summary>
    async Task GrowDueAsync()
    {
        while (!_freeze.Frozen && NextGrowth() is { } next && (!_pending.TryPeek(out var step) || step.Sequence > next.AfterSequence))
            await GrowAsync(next.Labels);
    }

    /// <summary>Replays (catch-up): grows the head by each addition that came before <paramref name="sequence"/>.</summary>
    async Task GrowBeforeAsync(long sequence)
    {
        while (NextGrowth() is { } next && next.AfterSequence < sequence) await GrowAsync(next.Labels);
    }

    /// <summary>Grows the head to <paramref name="labels"/> classes, if it has fewer.</summary>
    async Task GrowToAsync(int labels)
    {
        while (NextGrowth() is { } next && next.Labels <= labels) await GrowAsync(next.Labels);
    }

    /// <summary>
    /// The adapter and optimizer widened to <paramref name="labels"/> classes (LoKO.Engine: every learned value kept, new
    /// rows from a seed of the tenant's and the head's width, so a replay rebuilds them). The old ones are disposed only
    /// once the new ones exist.
    /// </summary>
    Task GrowAsync(int labels) => _s.Compute.Run(() =>
    {
        int from = _adapter.Layout.Outputs;
        var (adapter, growth) = _adapter.WithClasses(labels - from, unchecked(Settings.Seed * 1_000_003 + from));
        Engine.Optimizers.IOnlineOptimizer optimizer;
        try { optimizer = _optimizer.WithClasses(adapter.Theta, growth); }
        catch
        {
            adapter.Dispose();
            throw;
        }
        _optimizer.Dispose();
        _adapter.Dispose();
        _adapter = adapter;
        _optimizer = optimizer;
        // A bounded-P₀ warm-up still gathering examples was completed by the growth.
        _warmupPending = false;
        _s.Logger.LogInformation("Tenant {Tenant}: head grown from {From} to {To} labels at sequence {Sequence}", TenantId, from, labels, Counters.LastApplied);
    });
}
