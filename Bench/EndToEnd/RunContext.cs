namespace TcpChan.Bench.EndToEnd;

/// <summary>What a workload returns: its value, the value's unit, the time it measured, and more fields for the RESULT line.</summary>
public readonly record struct Measurement(double Value, string Unit, TimeSpan Elapsed, string Extra = "");

/// <summary>State shared by one run's peer code and the runner.</summary>
public sealed class RunContext
{
    public RunContext(BenchOptions options, CancellationToken cancellation, TextWriter? log = null)
    {
        Options = options;
        Cancellation = cancellation;
        Log = log ?? TextWriter.Null;
    }

    public BenchOptions Options { get; }

    /// <summary>Where a run says more than its RESULT line (stderr): the link's totals, the time series of long-bulk.</summary>
    public TextWriter Log { get; }

    /// <summary>Fires when the run timed out: the peer tears down its sessions and sockets.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>VmRSS after listener and connection setup, before the first stream (-1 until taken).</summary>
    public double IdleRssMiB { get; private set; } = -1;

    /// <summary>Takes <see cref="IdleRssMiB"/> now.</summary>
    public void TakeIdleRss() => IdleRssMiB = ProcStatus.Rss;
}
