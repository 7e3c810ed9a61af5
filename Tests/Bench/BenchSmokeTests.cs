using System.Text.RegularExpressions;
using TcpChan.Bench;
using TcpChan.Bench.EndToEnd;
using Xunit;

namespace TcpChan.Tests.Bench;

/// <summary>
/// The benchmark program's quick mode, in process: every TcpChan row and the nerdbank row
/// (Nerdbank.Streams) on every loopback workload (mixed included) with tiny sizes must finish
/// and report ok. No timing is asserted.
/// </summary>
public class BenchSmokeTests
{
    public static TheoryData<string, string> Runs()
    {
        var runs = new TheoryData<string, string>();
        foreach (var peer in BenchRunner.Peers.Where(p => p.StartsWith("tcpchan", StringComparison.Ordinal) || p == "nerdbank"))
        {
            foreach (var workload in BenchRunner.Workloads)
            {
                runs.Add(peer, workload);
            }
        }

        return runs;
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public async Task Quick_run_reports_ok(string peer, string workload)
    {
        var errors = new StringWriter();
        var result = await BenchRunner.RunAsync(QuickMode.Options(peer, workload), errors);
        Assert.True(result.Status == "ok", $"{result}\n{errors}");
        Assert.True(result.Value > 0, result.ToString());
        Assert.Matches(ResultLine(peer, workload), result.ToString());
    }

    /// <summary>The line /work/shared/peers/run.sh reads, with the extra fields some workloads add (mixed: p50_us, ...).</summary>
    internal static Regex ResultLine(string peer, string workload) =>
        new($@"^RESULT peer={Regex.Escape(peer)} workload={workload} value=-?[0-9.]+ unit=\S+ elapsed_s=[0-9.]+ hwm_mib=-?[0-9.]+ idle_rss_mib=-?[0-9.]+ status=ok( [a-z0-9_]+=\S+)*$");

    [Fact]
    public void Flags_are_the_peers_flags()
    {
        var o = BenchOptions.Parse(
        [
            "-peer", "tcpchan-pipelines", "-workload", "fanin", "-bulk-bytes", "268435456", "-chunk", "1024", "-echo-buf", "2048",
            "-rpc-streams", "3", "-rpc-rounds", "4", "-rpc-size", "5", "-open-total", "6", "-open-conc", "7",
            "-fanin-streams", "8", "-fanin-bytes", "9", "-timeout-s", "10", "-mixed-bulk", "11", "-mixed-rounds", "12",
        ]);
        Assert.Equal(
            new BenchOptions
            {
                Peer = "tcpchan-pipelines", Workload = "fanin", BulkBytes = 268435456, Chunk = 1024, EchoBuf = 2048,
                RpcStreams = 3, RpcRounds = 4, RpcSize = 5, OpenTotal = 6, OpenConc = 7, FaninStreams = 8, FaninBytes = 9,
                Timeout = TimeSpan.FromSeconds(10), MixedBulk = 11, MixedRounds = 12,
            },
            o);
        Assert.Throws<ArgumentException>(() => BenchOptions.Parse(["-nope", "1"]));
    }

    [Fact]
    public async Task Unknown_peer_reports_error()
    {
        var result = await BenchRunner.RunAsync(new BenchOptions { Peer = "nope" }, TextWriter.Null);
        Assert.Equal("error", result.Status);
    }
}
