using System.Globalization;
using Spectre.Console;

namespace TcpChan.Cli;

/// <summary>What a serve or forward has carried: channels, bytes each way, sessions.</summary>
internal sealed class Counters
{
    private long _openChannels;
    private long _channels;
    private long _bytesOut;
    private long _bytesIn;
    private long _sessions;
    private long _tcpAccepted;

    public long OpenChannels => Interlocked.Read(ref _openChannels);

    /// <summary>Channels relayed since the start (a connection forwarded either way is one).</summary>
    public long Channels => Interlocked.Read(ref _channels);

    /// <summary>Bytes relayed into the tunnel (read from local sockets).</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    /// <summary>Bytes relayed out of the tunnel (written to local sockets).</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Sessions up now.</summary>
    public long Sessions => Interlocked.Read(ref _sessions);

    /// <summary>TCP connections accepted by serve on its --listen address (each one a session attempt).</summary>
    public long TunnelConnectionsAccepted => Interlocked.Read(ref _tcpAccepted);

    /// <summary>Pings the sessions up now, so that their round-trip times are fresh.</summary>
    public Func<Task> Refresh { get; set; } = () => Task.CompletedTask;

    /// <summary>The round-trip times of the sessions up now.</summary>
    public Func<IEnumerable<TimeSpan>> RoundTripTimes { get; set; } = () => [];

    public void ChannelOpened()
    {
        Interlocked.Increment(ref _channels);
        Interlocked.Increment(ref _openChannels);
    }

    public void ChannelClosed() => Interlocked.Decrement(ref _openChannels);

    public void AddOut(long bytes) => Interlocked.Add(ref _bytesOut, bytes);

    public void AddIn(long bytes) => Interlocked.Add(ref _bytesIn, bytes);

    public void SessionUp() => Interlocked.Increment(ref _sessions);

    public void SessionDown() => Interlocked.Decrement(ref _sessions);

    public void TunnelConnectionAccepted() => Interlocked.Increment(ref _tcpAccepted);

    public string Describe(TimeSpan? interval = null, (long Out, long In)? previous = null)
    {
        long bytesOut = BytesOut, bytesIn = BytesIn;
        string rates = string.Empty;
        if (interval is { } span && previous is { } p && span > TimeSpan.Zero)
        {
            rates = $" ({Units.Bytes((bytesOut - p.Out) / span.TotalSeconds)}/s out, {Units.Bytes((bytesIn - p.In) / span.TotalSeconds)}/s in)";
        }

        var rtts = RoundTripTimes().ToList();
        string rtt = rtts.Count switch
        {
            0 => "-",
            1 => Units.Millis(rtts[0]),
            _ => $"{Units.Millis(rtts.Min())}..{Units.Millis(rtts.Max())}",
        };
        return $"sessions {Sessions} | channels {OpenChannels} open, {Channels} total | out {Units.Bytes(bytesOut)}, in {Units.Bytes(bytesIn)}{rates} | rtt {rtt}";
    }
}

internal static class Units
{
    public static string Bytes(double bytes) => bytes switch
    {
        < 1024 => $"{bytes.ToString("F0", CultureInfo.InvariantCulture)} B",
        < 1024 * 1024 => $"{(bytes / 1024).ToString("F1", CultureInfo.InvariantCulture)} KiB",
        < 1024.0 * 1024 * 1024 => $"{(bytes / 1024 / 1024).ToString("F1", CultureInfo.InvariantCulture)} MiB",
        _ => $"{(bytes / 1024 / 1024 / 1024).ToString("F2", CultureInfo.InvariantCulture)} GiB",
    };

    public static string Millis(TimeSpan time) => $"{time.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture)} ms";
}

/// <summary>
/// The --stats line: a Spectre status display on a terminal, a carriage-return line on a
/// terminal without ANSI codes, and a plain line every few seconds when standard error is
/// redirected (a file gets lines, not carriage returns).
/// </summary>
internal static class StatsDisplay
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RedirectedInterval = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(Counters counters, CancellationToken cancellationToken)
    {
        try
        {
            if (Output.StderrIsInteractive)
            {
                await Output.Stderr.Status().Spinner(Spinner.Known.Dots).StartAsync("stats", async context =>
                {
                    Output.BeginLive(Output.Stderr);
                    try
                    {
                        await LoopAsync(counters, Interval, text => context.Status(Markup.Escape(text)), cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        Output.EndLive();
                    }
                }).ConfigureAwait(false);
            }
            else if (!Console.IsErrorRedirected)
            {
                try
                {
                    await LoopAsync(counters, Interval, Output.StatusLine, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Output.StatusLine(null);
                }
            }
            else
            {
                await LoopAsync(counters, RedirectedInterval, text => Output.Line("stats: " + text), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task LoopAsync(Counters counters, TimeSpan interval, Action<string> show, CancellationToken cancellationToken)
    {
        var previous = (counters.BytesOut, counters.BytesIn);
        var last = DateTime.UtcNow;
        show(counters.Describe());
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            await counters.Refresh().ConfigureAwait(false);
            var now = DateTime.UtcNow;
            show(counters.Describe(now - last, previous));
            previous = (counters.BytesOut, counters.BytesIn);
            last = now;
        }
    }
}
