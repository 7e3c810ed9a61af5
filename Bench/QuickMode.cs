using TcpChan.Bench.EndToEnd;

namespace TcpChan.Bench;

/// <summary>
/// Every peer on every workload with tiny sizes, in seconds: a check that everything runs and
/// prints its RESULT line, not a measurement. The workloads over the emulated link run on a
/// 4 ms, 1 Gbit/s link (fast enough that a queue of a session's unsent bytes drains in
/// milliseconds, so that mixed stays short).
/// </summary>
public static class QuickMode
{
    /// <summary>The round-trip time of the quick runs over the emulated link, ms.</summary>
    public const double LinkRttMs = 4;

    /// <summary>
    /// The tiny sizes of a quick run of <paramref name="peer"/> on <paramref name="workload"/>,
    /// over the emulated link when <paramref name="rttMs"/> is given (always for latency and long-bulk).
    /// </summary>
    public static BenchOptions Options(string peer, string workload, double? rttMs = null) => new()
    {
        Peer = peer,
        Workload = workload,
        Timeout = TimeSpan.FromSeconds(20),
        BulkBytes = 32L << 20,
        Chunk = 64 << 10,
        EchoBuf = 32 << 10,
        RpcStreams = 16,
        RpcRounds = 500,
        RpcSize = 64,
        OpenTotal = 1000,
        OpenConc = 16,
        FaninStreams = 100,
        FaninBytes = 256 << 10,
        MixedRounds = 10,
        MixedWarmup = TimeSpan.FromMilliseconds(50),
        RttMs = rttMs ?? (workload is "latency" or "long-bulk" ? LinkRttMs : null),
        LinkMbit = 1000,
        LatencyRequests = 5,
        LongBulkDuration = TimeSpan.FromSeconds(0.2),
    };

    /// <summary>Every quick run: the loopback rows on the loopback workloads, then the link rows on the link workloads.</summary>
    public static IEnumerable<BenchOptions> Runs()
    {
        foreach (var workload in BenchRunner.Workloads)
        {
            foreach (var peer in BenchRunner.Peers)
            {
                yield return Options(peer, workload);
            }
        }

        foreach (var workload in BenchRunner.LinkWorkloads)
        {
            foreach (var peer in BenchRunner.LinkPeers)
            {
                yield return Options(peer, workload, LinkRttMs);
            }
        }
    }

    /// <summary>Runs every quick run and prints each RESULT line; returns how many were not ok.</summary>
    public static async Task<int> RunAsync()
    {
        int failed = 0;
        foreach (var options in Runs())
        {
            var result = await BenchRunner.RunAsync(options).ConfigureAwait(false);
            Console.WriteLine(result);
            failed += result.Status == "ok" ? 0 : 1;
        }

        return failed;
    }
}
