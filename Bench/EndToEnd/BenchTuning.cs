using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// The options every TcpChan row runs with: the defaults, except an accept backlog large
/// enough for every stream a run opens at once (on yamux also the limit of the peer's open
/// channels, 256 by default: Go's yamux limits only streams not yet accepted). For experiments (never for the reported
/// rows), TCPCHAN_BENCH_SESSION_BUDGET_KIB and TCPCHAN_BENCH_MAX_WINDOW_KIB change the session
/// budget and the largest auto-tuned channel window on both ends, TCPCHAN_BENCH_RECEIVE_KIB the
/// size of the transport reads, TCPCHAN_BENCH_MAX_UNSENT_KIB the session's unsent limit
/// (<see cref="TcpChanSessionOptions.MaxUnsentBytes"/>).
/// </summary>
internal static class BenchTuning
{
    public static TcpChanSessionOptions Session(int acceptStreams = 0, WireProtocol protocol = WireProtocol.TcpChan) => new()
    {
        AcceptBacklog = Math.Max(new TcpChanSessionOptions().AcceptBacklog, acceptStreams + 64),
        ReceiveBufferSize = KiB("TCPCHAN_BENCH_RECEIVE_KIB") ?? new TcpChanSessionOptions().ReceiveBufferSize,
        MaxUnsentBytes = KiB("TCPCHAN_BENCH_MAX_UNSENT_KIB") ?? new TcpChanSessionOptions().MaxUnsentBytes,
        Connection = Connection(protocol, acceptStreams),
    };

    public static ConnectionOptions Connection(WireProtocol protocol = WireProtocol.TcpChan, int acceptStreams = 0)
    {
        var options = new ConnectionOptions { Protocol = protocol };
        options.MaxConcurrentChannels = Math.Max(options.MaxConcurrentChannels, acceptStreams + 64);
        if (KiB("TCPCHAN_BENCH_MAX_WINDOW_KIB") is { } window)
        {
            options.MaxChannelWindow = Math.Max(window, options.InitialChannelWindow);
        }

        if (KiB("TCPCHAN_BENCH_SESSION_BUDGET_KIB") is { } budget)
        {
            options.SessionReceiveBudget = budget;
            options.InitialChannelWindow = Math.Min(options.InitialChannelWindow, budget);
            options.MaxChannelWindow = Math.Min(options.MaxChannelWindow, budget);
        }

        return options;
    }

    private static int? KiB(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int kib) && kib > 0 ? kib * 1024 : null;
}
