using TcpChan.Bench.EndToEnd;

namespace TcpChan.Bench;

/// <summary>
/// Every peer on every workload with tiny sizes, in seconds: a check that everything runs and
/// prints its RESULT line, not a measurement.
/// </summary>
public static class QuickMode
{
    /// <summary>The tiny sizes of a quick run of <paramref name="peer"/> on <paramref name="workload"/>.</summary>
    public static BenchOptions Options(string peer, string workload) => new()
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
    };

    /// <summary>Runs every peer × workload and prints each RESULT line; returns how many were not ok.</summary>
    public static async Task<int> RunAsync(IEnumerable<string>? peers = null, IEnumerable<string>? workloads = null)
    {
        int failed = 0;
        foreach (var workload in workloads ?? BenchRunner.Workloads)
        {
            foreach (var peer in peers ?? BenchRunner.Peers)
            {
                var result = await BenchRunner.RunAsync(Options(peer, workload)).ConfigureAwait(false);
                Console.WriteLine(result);
                failed += result.Status == "ok" ? 0 : 1;
            }
        }

        return failed;
    }
}
