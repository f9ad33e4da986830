using LoKO.Engine.Batching;
using LoKO.Engine.Models;

namespace LoKO.Server.Compute;

/// <summary>
/// One tenant's next learning step, waiting to run in a batch: <see cref="Prepare"/> builds it on the compute thread
/// (inside the batch's dispose scope), <see cref="Finish"/> records its result there, and the task completes after.
/// </summary>
sealed class LearnRequest(BaseModel model, Func<TenantStep> prepare, Action<TenantStepResult, TimeSpan> finish)
{
    readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BaseModel Model { get; } = model;
    public Func<TenantStep> Prepare { get; } = prepare;
    public long QueuedTicks { get; } = Environment.TickCount64;
    public Task Completion => _done.Task;

    /// <summary>Records the result (the tenant's own bookkeeping) and completes the request, with what that threw if it did.</summary>
    public void Finish(TenantStepResult result, TimeSpan elapsed)
    {
        try
        {
            finish(result, elapsed);
            _done.TrySetResult();
        }
        catch (Exception e)
        {
            _done.TrySetException(e);
        }
    }

    public void Fail(Exception e) => _done.TrySetException(e);
}
