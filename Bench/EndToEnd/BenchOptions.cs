using System.Globalization;
using TcpChan.Bench.Link;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// One run's flags, exactly those of the peers' programs (/work/shared/peers/README.md):
/// <c>-peer</c>, <c>-workload</c>, <c>-bulk-bytes</c>, <c>-chunk</c>, <c>-echo-buf</c>,
/// <c>-rpc-streams</c>, <c>-rpc-rounds</c>, <c>-rpc-size</c>, <c>-open-total</c>,
/// <c>-open-conc</c>, <c>-fanin-streams</c>, <c>-fanin-bytes</c>, <c>-timeout-s</c>, and for
/// mixed <c>-mixed-bulk</c>, <c>-mixed-rounds</c>, with the same defaults. TcpChan's own
/// additions: <c>-mixed-warmup-ms</c>, and for the workloads over the emulated link
/// (Bench/Link) <c>-rtt-ms</c>, <c>-link-mbit</c>, <c>-link-buffer-kib</c>,
/// <c>-latency-requests</c>, <c>-long-bulk-s</c>.
/// </summary>
public sealed record BenchOptions
{
    public string Peer { get; init; } = "tcpchan";

    public string Workload { get; init; } = "bulk";

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    public long BulkBytes { get; init; } = 1L << 30;

    public int Chunk { get; init; } = 64 << 10;

    public int EchoBuf { get; init; } = 32 << 10;

    public int RpcStreams { get; init; } = 64;

    public int RpcRounds { get; init; } = 20000;

    public int RpcSize { get; init; } = 64;

    public int OpenTotal { get; init; } = 20000;

    public int OpenConc { get; init; } = 16;

    public int FaninStreams { get; init; } = 1000;

    public int FaninBytes { get; init; } = 1 << 20;

    /// <summary>mixed: bulk streams beside the timed rpc stream.</summary>
    public int MixedBulk { get; init; } = 4;

    /// <summary>mixed: round trips timed alone, then under bulk.</summary>
    public int MixedRounds { get; init; } = 5000;

    /// <summary>mixed: bulk running before the timed rounds start (the peers' 0.5 s).</summary>
    public TimeSpan MixedWarmup { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Round-trip time of the emulated link, in ms. Null: loopback for mixed; latency and
    /// long-bulk always run on the link (100 ms when not given).
    /// </summary>
    public double? RttMs { get; init; }

    /// <summary>Rate of the emulated link in each direction, Mbit/s.</summary>
    public double LinkMbit { get; init; } = 100;

    /// <summary>The link's bottleneck buffer in KiB; null: one bandwidth-delay product (see <see cref="LinkOptions"/>).</summary>
    public long? LinkBufferKiB { get; init; }

    /// <summary>latency: timed requests per row (after 3 untimed).</summary>
    public int LatencyRequests { get; init; } = 50;

    /// <summary>long-bulk: how long the channel sends.</summary>
    public TimeSpan LongBulkDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The emulated link this run uses, or null for loopback.</summary>
    internal LinkOptions? Link => Workload is "latency" or "long-bulk" || (Workload == "mixed" && RttMs is not null)
        ? LinkOptions.FromRtt(RttMs ?? 100, LinkMbit) with { BufferBytes = LinkBufferKiB * 1024 }
        : null;

    /// <summary>Parses <c>-name value</c> pairs; a leading dash or two are ignored, unknown names are an error.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count % 2 != 0)
        {
            throw new ArgumentException("Flags come in pairs: -name value.");
        }

        var o = new BenchOptions();
        for (int i = 0; i < args.Count; i += 2)
        {
            string name = args[i].TrimStart('-');
            string value = args[i + 1];
            o = name switch
            {
                "peer" => o with { Peer = value },
                "workload" => o with { Workload = value },
                "timeout-s" => o with { Timeout = TimeSpan.FromSeconds(Long(value)) },
                "bulk-bytes" => o with { BulkBytes = Long(value) },
                "chunk" => o with { Chunk = Int(value) },
                "echo-buf" => o with { EchoBuf = Int(value) },
                "rpc-streams" => o with { RpcStreams = Int(value) },
                "rpc-rounds" => o with { RpcRounds = Int(value) },
                "rpc-size" => o with { RpcSize = Int(value) },
                "open-total" => o with { OpenTotal = Int(value) },
                "open-conc" => o with { OpenConc = Int(value) },
                "fanin-streams" => o with { FaninStreams = Int(value) },
                "fanin-bytes" => o with { FaninBytes = Int(value) },
                "mixed-bulk" => o with { MixedBulk = Int(value) },
                "mixed-rounds" => o with { MixedRounds = Int(value) },
                "mixed-warmup-ms" => o with { MixedWarmup = TimeSpan.FromMilliseconds(Double(value)) },
                "rtt-ms" => o with { RttMs = Double(value) },
                "link-mbit" => o with { LinkMbit = Double(value) },
                "link-buffer-kib" => o with { LinkBufferKiB = Long(value) },
                "latency-requests" => o with { LatencyRequests = Int(value) },
                "long-bulk-s" => o with { LongBulkDuration = TimeSpan.FromSeconds(Double(value)) },
                _ => throw new ArgumentException($"Unknown flag -{name}."),
            };
        }

        return o;
    }

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);

    private static int Int(string s) => checked((int)Long(s));

    private static double Double(string s) => double.Parse(s, CultureInfo.InvariantCulture);
}
