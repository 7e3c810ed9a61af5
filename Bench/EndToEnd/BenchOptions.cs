using System.Globalization;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// One run's flags, exactly those of the peers' programs (/work/shared/peers/README.md):
/// <c>-peer</c>, <c>-workload</c>, <c>-bulk-bytes</c>, <c>-chunk</c>, <c>-echo-buf</c>,
/// <c>-rpc-streams</c>, <c>-rpc-rounds</c>, <c>-rpc-size</c>, <c>-open-total</c>,
/// <c>-open-conc</c>, <c>-fanin-streams</c>, <c>-fanin-bytes</c>, <c>-timeout-s</c>, with the
/// same defaults.
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
                _ => throw new ArgumentException($"Unknown flag -{name}."),
            };
        }

        return o;
    }

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);

    private static int Int(string s) => checked((int)Long(s));
}
