using TcpChan.Bench;
using TcpChan.Bench.EndToEnd;
using Xunit;

namespace TcpChan.Tests.Bench;

/// <summary>
/// Quick mode of the workloads over the emulated link (latency, long-bulk, mixed with
/// -rtt-ms): every row, a 4 ms, 1 Gbit/s link, tiny sizes, must report ok. No timing is asserted.
/// </summary>
public class LinkBenchSmokeTests
{
    public static TheoryData<string, string> Runs()
    {
        var runs = new TheoryData<string, string>();
        foreach (var workload in BenchRunner.LinkWorkloads)
        {
            foreach (var peer in BenchRunner.LinkPeers)
            {
                runs.Add(peer, workload);
            }
        }

        return runs;
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public async Task Quick_run_over_the_link_reports_ok(string peer, string workload)
    {
        var errors = new StringWriter();
        var result = await BenchRunner.RunAsync(QuickMode.Options(peer, workload, QuickMode.LinkRttMs), errors);
        Assert.True(result.Status == "ok", $"{result}\n{errors}");
        Assert.True(result.Value > 0, result.ToString());
        Assert.Matches(BenchSmokeTests.ResultLine(peer, workload), result.ToString());
        Assert.Contains("LINK up bytes=", errors.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Link_flags_parse_and_choose_the_link()
    {
        var o = BenchOptions.Parse(["-workload", "mixed", "-rtt-ms", "100", "-link-mbit", "1000", "-link-buffer-kib", "64", "-latency-requests", "7", "-long-bulk-s", "2.5", "-mixed-warmup-ms", "20"]);
        Assert.Equal(100, o.RttMs);
        Assert.Equal(TimeSpan.FromSeconds(2.5), o.LongBulkDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(20), o.MixedWarmup);
        Assert.Equal(7, o.LatencyRequests);
        var link = o.Link!;
        Assert.Equal(TimeSpan.FromMilliseconds(50), link.OneWayDelay);
        Assert.Equal(1e9, link.BitsPerSecond);
        Assert.Equal(64 * 1024, link.EffectiveBufferBytes);

        // mixed without -rtt-ms is the peers' loopback workload; latency always runs on the link.
        Assert.Null((o with { RttMs = null }).Link);
        Assert.NotNull((o with { Workload = "latency", RttMs = null }).Link);
    }

    [Fact]
    public async Task A_link_flag_on_a_loopback_workload_is_an_error()
    {
        var result = await BenchRunner.RunAsync(new BenchOptions { Workload = "bulk", RttMs = 20 }, TextWriter.Null);
        Assert.Equal("error", result.Status);
        result = await BenchRunner.RunAsync(new BenchOptions { Workload = "latency", Peer = "tcpchan-sockets" }, TextWriter.Null);
        Assert.Equal("error", result.Status);
    }
}
