namespace TcpChan.Bench.EndToEnd;

/// <summary>What a workload returns: its value, the value's unit, and the time it measured.</summary>
public readonly record struct Measurement(double Value, string Unit, TimeSpan Elapsed);

/// <summary>State shared by one run's peer code and the runner.</summary>
public sealed class RunContext
{
    public RunContext(BenchOptions options, CancellationToken cancellation)
    {
        Options = options;
        Cancellation = cancellation;
    }

    public BenchOptions Options { get; }

    /// <summary>Fires when the run timed out: the peer tears down its sessions and sockets.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>VmRSS after listener and connection setup, before the first stream (-1 until taken).</summary>
    public double IdleRssMiB { get; private set; } = -1;

    /// <summary>Takes <see cref="IdleRssMiB"/> now.</summary>
    public void TakeIdleRss() => IdleRssMiB = ProcStatus.Rss;
}
