using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>The "TcpChan" meter moves during a transfer; logs say the session's life at Information and nothing per channel above Debug.</summary>
public class ObservabilityTests
{
    private const int Channels = 40;
    private const int Bytes = 256 * 1024;

    [Fact]
    public async Task The_TcpChan_meter_counts_sessions_channels_bytes_and_frames()
    {
        // Other tests run at the same time and move the same instruments: only lower bounds hold.
        var sums = new ConcurrentDictionary<string, long>();
        var ups = new ConcurrentDictionary<string, long>();
        var downs = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == TcpChanMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value);
            (value >= 0 ? ups : downs).AddOrUpdate(instrument.Name, 1, (_, n) => n + 1);
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => ups.AddOrUpdate(instrument.Name, 1, (_, n) => n + 1));
        listener.Start();

        var pair = await Loopback.PairAsync();
        await using (pair)
        {
            var echo = Loopback.EchoAllAsync(pair.Server);
            await pair.Client.PingAsync().WaitAsync(Loopback.Timeout);
            await TransferAsync(pair.Client);
            Assert.True(ups.GetValueOrDefault("tcpchan.sessions") >= 2, "two sessions counted up");
            Assert.True(ups.GetValueOrDefault("tcpchan.channels") >= 2, "channels counted up");
            Assert.True(downs.GetValueOrDefault("tcpchan.channels") >= 2, "channels counted down");
            Assert.True(sums.GetValueOrDefault("tcpchan.bytes_sent") >= 2L * Channels * Bytes);
            Assert.True(sums.GetValueOrDefault("tcpchan.bytes_received") >= 2L * Channels * Bytes);
            Assert.True(sums.GetValueOrDefault("tcpchan.frames_sent") >= 2L * Channels * Bytes / 65535);
            Assert.True(sums.GetValueOrDefault("tcpchan.frames_received") >= 2L * Channels * Bytes / 65535);
            Assert.True(ups.GetValueOrDefault("tcpchan.rtt") >= 1, "a round-trip time recorded");
        }

        Assert.True(downs.GetValueOrDefault("tcpchan.sessions") >= 2, "both sessions counted down when they ended");
    }

    [Fact]
    public async Task Logs_tell_the_sessions_life_at_Information_and_channels_only_at_Debug()
    {
        var clientLog = new ListLogger();
        var serverLog = new ListLogger();
        var pair = await Loopback.PairAsync(new TcpChanSessionOptions { Logger = clientLog }, new TcpChanSessionOptions { Logger = serverLog });
        await using (pair)
        {
            var echo = Loopback.EchoAllAsync(pair.Server);
            await TransferAsync(pair.Client);
            await pair.Client.CloseAsync(TimeSpan.FromSeconds(10)).WaitAsync(Loopback.Timeout);
            await pair.Server.Completion.WaitAsync(Loopback.Timeout);
        }

        Assert.Contains(clientLog.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("session established") && e.Message.Contains("client"));
        Assert.Contains(serverLog.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("session established") && e.Message.Contains("server"));
        Assert.Contains(clientLog.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("session ended: Closed"));
        Assert.Contains(serverLog.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("going away"));
        Assert.Contains(serverLog.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("session ended: Closed"));

        // Per channel: Debug at most, however many channels there were.
        foreach (var log in new[] { clientLog, serverLog })
        {
            Assert.True(log.Entries.Count(e => e.Level == LogLevel.Debug) >= Channels, "each channel's close is logged at Debug");
            var loud = log.Entries.Where(e => e.Level > LogLevel.Debug).ToList();
            Assert.InRange(loud.Count, 2, 3);
            Assert.All(loud, e => Assert.Equal(LogLevel.Information, e.Level));
        }
    }

    [Fact]
    public async Task A_lost_connection_is_logged_as_a_Warning()
    {
        var log = new ListLogger();
        var (peer, client) = await RawPeer.ConnectAsync(new TcpChanSessionOptions { Logger = log });
        await using var _ = peer;
        await using var __ = client;
        peer.Reset();
        await client.Completion.WaitAsync(Loopback.Timeout);
        var end = Assert.Single(log.Entries, e => e.Message.Contains("session ended"));
        Assert.Equal(LogLevel.Warning, end.Level);
        Assert.Contains("ConnectionLost", end.Message);
    }

    /// <summary>Opens channels through the echo and sends each a few hundred KB, reading them back.</summary>
    private static async Task TransferAsync(TcpChanSession client)
    {
        await Task.WhenAll(Enumerable.Range(0, Channels).Select(async i =>
        {
            await using var stream = await client.OpenChannelAsync($"c{i}");
            var reading = Loopback.ReadAllAsync(stream);
            await stream.WriteAsync(new byte[Bytes]);
            stream.CompleteWrites();
            Assert.Equal(Bytes, (await reading).Length);
        })).WaitAsync(Loopback.Timeout);
    }

    /// <summary>A logger that keeps every entry.</summary>
    private sealed class ListLogger : ILogger
    {
        private readonly List<(LogLevel Level, string Message)> _entries = new();

        public List<(LogLevel Level, string Message)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return _entries.ToList();
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_entries)
            {
                _entries.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
