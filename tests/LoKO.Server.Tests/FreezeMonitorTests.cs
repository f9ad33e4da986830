using LoKO.Server.Hosting;
using LoKO.Server.Tenants;

namespace LoKO.Server.Tests;

/// <summary>The guard rails' rules on their own: windows of prequential outcomes and the filter's guard events.</summary>
public class FreezeMonitorTests
{
    static FreezeMonitor Monitor(int window = 10, int minWindows = 3, double drop = 0.2, int maxEvents = 0, int eventSteps = 100)
    {
        var monitor = new FreezeMonitor(new GuardRailOptions
        {
            Window = window, MinWindows = minWindows, MaxAccuracyDrop = drop, MaxGuardEvents = maxEvents, GuardEventSteps = eventSteps,
        });
        monitor.Reset(0);
        return monitor;
    }

    /// <summary>One window: <paramref name="correct"/> of its examples right, from sequence <paramref name="first"/>.</summary>
    static long Window(FreezeMonitor monitor, long first, int correct, int size = 10)
    {
        for (int i = 0; i < size; i++) monitor.Observe(first + i, i < correct, null);
        return first + size;
    }

    [Fact]
    public void AWindowFarBelowTheBestTripsOnceEnoughWindowsHaveClosed()
    {
        var monitor = Monitor();
        long next = Window(monitor, 1, 9);      // 0.9: the best
        next = Window(monitor, next, 2);        // 0.2, but only the second window: not judged yet
        Assert.Null(monitor.Tripped);
        next = Window(monitor, next, 8);        // 0.8 ≥ 0.9 − 0.2
        Assert.Null(monitor.Tripped);
        Window(monitor, next, 6);               // 0.6 < 0.9 − 0.2
        var trip = Assert.IsType<FreezeTrigger>(monitor.Tripped);
        Assert.Equal(31, trip.DropSequence);
        Assert.Contains("online accuracy 0.6 (6/10) over sequences 31–40", trip.Reason);
        Assert.Contains("best window's 0.9", trip.Reason);

        // Nothing more is counted until a reset.
        Window(monitor, 41, 10);
        Assert.Equal(31, monitor.Tripped!.DropSequence);
        monitor.Reset(40);
        Assert.Null(monitor.Tripped);
    }

    [Fact]
    public void TheFiltersGuardFiringKTimesWithinMStepsTrips()
    {
        var monitor = Monitor(drop: 1, maxEvents: 3, eventSteps: 20);
        monitor.Observe(1, true, "divergence: a");
        for (long s = 2; s <= 25; s++) monitor.Observe(s, true, null);
        monitor.Observe(26, true, "divergence: b");   // the first has left the 20-step span
        monitor.Observe(27, true, null);
        Assert.Null(monitor.Tripped);
        monitor.Observe(28, true, "divergence: c");
        Assert.Null(monitor.Tripped);
        monitor.Observe(30, true, "divergence: d");   // sequences may skip (rolled-back entries)
        var trip = Assert.IsType<FreezeTrigger>(monitor.Tripped);
        Assert.Equal(26, trip.DropSequence);
        Assert.Contains("fired 3 times within 20 steps (sequences 26–30", trip.Reason);
        Assert.EndsWith("divergence: d", trip.Reason);
    }

    [Fact]
    public void CompactionIsToldWhatAFreezeCouldStillReturnTo()
    {
        var monitor = Monitor(minWindows: 3, maxEvents: 2, eventSteps: 50);
        Assert.Null(monitor.ProtectThrough);            // no window the accuracy rule can judge yet
        long next = Window(monitor, 1, 8);
        Assert.Null(monitor.ProtectThrough);
        next = Window(monitor, next, 8);                // the third window can trip: it may reach back to 21
        Assert.Equal(20, monitor.ProtectThrough);
        monitor.Observe(next, true, "divergence");      // a guard event at 21: a second one would reach back before it
        Assert.Equal(20, monitor.ProtectThrough);
        for (long s = next + 1; s < 31; s++) monitor.Observe(s, true, null);
        Assert.Equal(20, monitor.ProtectThrough);        // the event at 21 still counts
        Assert.Null(monitor.Tripped);

        var off = new FreezeMonitor(new GuardRailOptions { Enabled = false });
        off.Reset(0);
        Window(off, 1, 10);
        Window(off, 11, 0);
        Assert.Null(off.Tripped);
        Assert.Null(off.ProtectThrough);
    }
}
