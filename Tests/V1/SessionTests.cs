using TcpChan.Core;
using TcpChan.Core.Frames;
using Xunit;

namespace TcpChan.Tests.V1;

public class SessionTests
{
    private static SimulatedLink Pair(ConnectionOptions? client = null, ConnectionOptions? server = null, TimeSpan latency = default, double bandwidth = 0)
    {
        var link = new SimulatedLink(
            new ClientConnection(() => new TestChannel(), client),
            new ServerConnection(() => new TestChannel(echo: true), server),
            latency,
            bandwidth);
        link.Start();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal(ConnectionState.Established, link.Server.State);
        return link;
    }

    [Fact]
    public void Ping_measures_the_round_trip()
    {
        var link = Pair(latency: TimeSpan.FromMilliseconds(20));
        link.Client.Ping(42);
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        var ack = Assert.Single(link.ClientEvents.OfType<PingAcknowledged>());
        Assert.Equal(42UL, ack.Opaque);
        Assert.Equal(TimeSpan.FromMilliseconds(40), ack.RoundTripTime);
        Assert.Equal(TimeSpan.FromMilliseconds(40), link.Client.SmoothedRtt);
    }

    [Fact]
    public void Keepalive_times_out_a_silent_peer()
    {
        var options = new ConnectionOptions { KeepAliveInterval = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.FromSeconds(3) };
        var link = Pair(options, options);
        var channel = (TestChannel)link.Client.CreateChannel();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        var start = link.Now;
        link.ClientSilent = true; // the client hears nothing more: the server went silent for it
        link.Run(start + TimeSpan.FromSeconds(10));
        var timedOut = Assert.Single(link.ClientEvents.OfType<KeepAliveTimedOut>());
        Assert.Equal(TimeSpan.FromSeconds(3), timedOut.Silence);
        Assert.Same(timedOut, link.ClientEvents[^1]);
        Assert.Equal(ChannelCloseReason.KeepAliveTimeout, channel.ClosedWith);
        Assert.Equal(ConnectionState.Closed, link.Client.State);
    }

    [Fact]
    public void Keepalive_does_not_fire_under_heavy_load()
    {
        var options = new ConnectionOptions { KeepAliveInterval = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.FromSeconds(2) };

        // 10 MB/s with 100 ms latency; 200 MB each way takes ~20 s of virtual time, ten timeouts long.
        var link = Pair(options, options, TimeSpan.FromMilliseconds(100), 10e6);
        var channel = (TestChannel)link.Client.CreateChannel();
        channel.Write(new byte[200_000_000]);
        channel.CompleteWrites();
        link.Run(TimeSpan.FromSeconds(60));
        Assert.Empty(link.ClientEvents.OfType<KeepAliveTimedOut>());
        Assert.Empty(link.ServerEvents.OfType<KeepAliveTimedOut>());
        Assert.Equal(200_000_000, channel.Received.Length);
        Assert.Equal(ChannelCloseReason.Completed, channel.ClosedWith);
        Assert.True(link.Now > TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Too_many_channels_are_refused_with_a_retryable_code()
    {
        var link = Pair(server: new ConnectionOptions { MaxConcurrentChannels = 2 });
        var a = link.Client.CreateChannel();
        var b = link.Client.CreateChannel();
        var c = (TestChannel)link.Client.CreateChannel();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.False(a.IsClosed);
        Assert.False(b.IsClosed);
        Assert.Equal(ChannelCloseReason.Refused, c.ClosedWith);
        var closed = Assert.Single(link.ClientEvents.OfType<ChannelClosed>());
        Assert.True(closed.IsRetryable);
        Assert.Equal(ErrorCode.Refused, closed.Code);
        Assert.Equal(2, link.Server.OpenChannelCount);
    }

    [Fact]
    public void Go_away_racing_with_opens_never_loses_an_open()
    {
        var link = Pair(latency: TimeSpan.FromMilliseconds(10));
        var before = Enumerable.Range(0, 5).Select(_ => (TestChannel)link.Client.CreateChannel()).ToList();
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));

        // The server goes away while the client's next opens are in flight.
        link.Server.GoAway();
        var racing = Enumerable.Range(0, 5).Select(_ => (TestChannel)link.Client.CreateChannel()).ToList();
        foreach (var c in racing)
        {
            c.Write(new byte[100]);
        }

        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        var goAway = Assert.Single(link.ClientEvents.OfType<GoAwayReceived>());
        Assert.Equal(before[^1].ChannelId, goAway.LastChannelId);
        Assert.All(racing, c => Assert.Equal(ChannelCloseReason.Refused, c.ClosedWith));
        Assert.All(before, c => Assert.False(c.IsClosed));
        Assert.Throws<InvalidOperationException>(() => link.Client.CreateChannel());

        // Processed channels drain and finish.
        foreach (var c in before)
        {
            c.Write(new byte[1000]);
            c.CompleteWrites();
        }

        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.All(before, c => Assert.Equal(ChannelCloseReason.Completed, c.ClosedWith));
        Assert.All(before, c => Assert.Equal(1000, c.Received.Length));
        Assert.Equal(0, link.Client.OpenChannelCount);
        Assert.Equal(0, link.Server.OpenChannelCount);
    }

    [Fact]
    public void Labels_reach_the_accepting_side()
    {
        var link = Pair();
        var channel = link.Client.CreateChannel("tcp:example.org:80");
        link.RunUntilQuiet(TimeSpan.FromSeconds(10));
        Assert.Equal("tcp:example.org:80", link.Server.GetChannel(channel.ChannelId)!.Label);
        Assert.Throws<ArgumentException>(() => link.Client.CreateChannel(new string('x', 256)));
    }
}
