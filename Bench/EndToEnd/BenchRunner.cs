using TcpChan.Bench.Link;
using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>Runs one (peer, workload) pair with the peers' conventions and returns its RESULT.</summary>
public static class BenchRunner
{
    /// <summary>The rows this program can run, TcpChan's first, then the peers it runs itself (Nerdbank.Streams, raw TCP).</summary>
    public static readonly IReadOnlyList<string> Peers = ["tcpchan", "tcpchan-sockets", "tcpchan-tasks", "tcpchan-pipelines", "tcpchan-yamux", "nerdbank", "dotnet-tcp"];

    /// <summary>The workloads of /work/shared/peers/README.md (mixed runs only when named there).</summary>
    public static readonly IReadOnlyList<string> Workloads = ["bulk", "rpc", "open", "fanin", "mixed"];

    /// <summary>The workloads over the emulated link (Bench/Link): mixed with <c>-rtt-ms</c>, and two of their own.</summary>
    public static readonly IReadOnlyList<string> LinkWorkloads = ["latency", "long-bulk", "mixed"];

    /// <summary>The rows over the emulated link: a session over one link connection (plain, TLS), a link connection per stream (plain, TLS).</summary>
    public static readonly IReadOnlyList<string> LinkPeers = ["tcpchan", "tcpchan-tls", "dotnet-tcp", "dotnet-tls"];

    /// <summary>The rows that can run <paramref name="options"/>' workload where it runs (loopback or the link).</summary>
    public static IReadOnlyList<string> PeersFor(BenchOptions options) => options.Link is null ? Peers : LinkPeers;

    /// <summary>
    /// Runs <paramref name="options"/>: server and client in this process over 127.0.0.1. A run
    /// that takes longer than <see cref="BenchOptions.Timeout"/> is abandoned (its sockets and
    /// sessions torn down) and reported as <c>timeout</c>; one that throws as <c>error</c>.
    /// </summary>
    public static async Task<BenchResult> RunAsync(BenchOptions options, TextWriter? errors = null)
    {
        errors ??= Console.Error;
        bool known = (Workloads.Contains(options.Workload) || LinkWorkloads.Contains(options.Workload)) && PeersFor(options).Contains(options.Peer);
        if (!known || (options.RttMs is not null && options.Link is null))
        {
            // As the peers' programs: a RESULT line that says error, and why on stderr.
            errors.WriteLine($"unknown peer {options.Peer} or workload {options.Workload} (-rtt-ms: {options.RttMs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}); on loopback: peers {string.Join(" ", Peers)}, workloads {string.Join(" ", Workloads)}; over the link (-rtt-ms): peers {string.Join(" ", LinkPeers)}, workloads {string.Join(" ", LinkWorkloads)}");
            return new BenchResult(options.Peer, options.Workload, "error", 0, "-", TimeSpan.Zero, ProcStatus.PeakRss, -1);
        }

        using var abort = new CancellationTokenSource();
        var context = new RunContext(options, abort.Token, errors);
        using var sampler = AllocationSampler.StartIfAsked();
        var stats = RunStats.Start();
        var run = Task.Run(() => RunPeerAsync(context));
        try
        {
            var m = await run.WaitAsync(options.Timeout).ConfigureAwait(false);
            errors.WriteLine(stats.Stop(options));
            if (sampler is not null)
            {
                errors.WriteLine(sampler.Report());
            }
            return new BenchResult(options.Peer, options.Workload, "ok", m.Value, m.Unit, m.Elapsed, ProcStatus.PeakRss, context.IdleRssMiB, m.Extra);
        }
        catch (TimeoutException)
        {
            errors.WriteLine($"timeout after {options.Timeout}");
            await abort.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            return new BenchResult(options.Peer, options.Workload, "timeout", 0, "-", options.Timeout, ProcStatus.PeakRss, context.IdleRssMiB);
        }
        catch (Exception e)
        {
            errors.WriteLine(e);
            return new BenchResult(options.Peer, options.Workload, "error", 0, "-", TimeSpan.Zero, ProcStatus.PeakRss, context.IdleRssMiB);
        }
    }

    private static async Task<Measurement> RunPeerAsync(RunContext context)
    {
        var o = context.Options;
        int streams = Math.Max(o.FaninStreams, Math.Max(o.RpcStreams, o.OpenConc));
        if (o.Link is { } shape)
        {
            return await RunOverLinkAsync(context, shape, streams).ConfigureAwait(false);
        }

        switch (o.Peer)
        {
            case "tcpchan-sockets":
                return await ProtocolPeer.RunAsync(context).ConfigureAwait(false);
            case "tcpchan-pipelines":
                return await PipelinesPeer.RunAsync(context).ConfigureAwait(false);
            default:
                IStreamHost host = o.Peer switch
                {
                    "tcpchan" => new TcpChanSessionHost(useSocketsAdapter: true, streams),
                    "tcpchan-tasks" => new TcpChanSessionHost(useSocketsAdapter: false, streams),
                    "tcpchan-yamux" => new TcpChanSessionHost(useSocketsAdapter: true, streams, WireProtocol.Yamux),
                    "nerdbank" => new NerdbankHost(),
                    _ => new DotnetTcpHost(),
                };
                await using (host.ConfigureAwait(false))
                {
                    using var reg = context.Cancellation.Register(() => _ = host.DisposeAsync().AsTask());
                    return await StreamWorkloads.RunAsync(host, context).ConfigureAwait(false);
                }
        }
    }

    private static async Task<Measurement> RunOverLinkAsync(RunContext context, LinkOptions shape, int streams)
    {
        var o = context.Options;
        var link = new EmulatedLink(shape);
        IStreamHost host = o.Peer switch
        {
            "tcpchan" => new LinkSessionHost(link, tls: false, streams),
            "tcpchan-tls" => new LinkSessionHost(link, tls: true, streams),
            "dotnet-tls" => new LinkConnectionHost(link, tls: true),
            _ => new LinkConnectionHost(link, tls: false),
        };
        await using (host.ConfigureAwait(false))
        {
            using var reg = context.Cancellation.Register(() => _ = host.DisposeAsync().AsTask());
            try
            {
                return await StreamWorkloads.RunAsync(host, context).ConfigureAwait(false);
            }
            finally
            {
                context.Log.WriteLine(link.Report());
                if (host is LinkSessionHost { Client.SmoothedRtt: { } srtt })
                {
                    context.Log.WriteLine($"SESSION smoothed_rtt_ms={srtt.TotalMilliseconds:F1}");
                }

                if (BenchTls.LastProtocol is { } tls)
                {
                    context.Log.WriteLine($"TLS protocol={tls}");
                }
            }
        }
    }
}

/// <summary>
/// What a run cost the process, for finding where the time goes: CPU time (both ends and the
/// runtime), bytes allocated and collections. Printed to stderr as one <c>STATS</c> line, beside
/// the RESULT line (run.sh keeps it in the run's log).
/// </summary>
internal readonly struct RunStats
{
    private readonly TimeSpan _cpu;
    private readonly long _allocated;
    private readonly int _gen0;
    private readonly int _gen1;
    private readonly int _gen2;
    private readonly long _started;

    private RunStats(TimeSpan cpu, long allocated, int gen0, int gen1, int gen2, long started)
    {
        _cpu = cpu;
        _allocated = allocated;
        _gen0 = gen0;
        _gen1 = gen1;
        _gen2 = gen2;
        _started = started;
    }

    public static RunStats Start() => new(
        System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime,
        GC.GetTotalAllocatedBytes(precise: true),
        GC.CollectionCount(0),
        GC.CollectionCount(1),
        GC.CollectionCount(2),
        System.Diagnostics.Stopwatch.GetTimestamp());

    public string Stop(BenchOptions o)
    {
        var wall = System.Diagnostics.Stopwatch.GetElapsedTime(_started);
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - _cpu;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocated;
        return string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"STATS peer={o.Peer} workload={o.Workload} wall_s={wall.TotalSeconds:F3} cpu_s={cpu.TotalSeconds:F3} cpu_per_wall={cpu / wall:F2} alloc_mib={allocated / 1048576.0:F1} gc0={GC.CollectionCount(0) - _gen0} gc1={GC.CollectionCount(1) - _gen1} gc2={GC.CollectionCount(2) - _gen2}");
    }
}
