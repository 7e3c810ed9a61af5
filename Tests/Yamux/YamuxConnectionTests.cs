using TcpChan.Core;
using TcpChan.Core.Yamux;
using TcpChan.Tests.Support;
using TcpChan.Tests.V1;
using Xunit;
using static TcpChan.Tests.Yamux.YamuxPeer;

namespace TcpChan.Tests.Yamux;

/// <summary>
/// The connection in yamux mode against hand-written frames: what it sends for every semantic
/// of the channel API (byte for byte against Go's golden frames where Go sends the same) and
/// what it does with what Go sends. Bad input is in <see cref="YamuxBadInputTests"/>.
/// </summary>
public sealed class YamuxConnectionTests
{
    private const int Window = (int)YamuxProtocol.InitialStreamWindow;

    [Theory]
    [InlineData(Role.Client)]
    [InlineData(Role.Server)]
    public void Established_at_once_with_no_handshake_and_a_first_ping_for_the_round_trip(Role role)
    {
        var peer = YamuxPeer.Started(role);

        Assert.Equal(ConnectionState.Established, peer.Ours.State);
        Assert.Equal(WireProtocol.Yamux, peer.Ours.Protocol);
        Assert.Equal(0, peer.Ours.Version);
        var success = Assert.IsType<HandshakeSuccess>(Assert.Single(peer.Events));
        Assert.Equal((WireProtocol.Yamux, (byte)0), (success.Protocol, success.Version));
        Assert.Equal(long.MaxValue, peer.Ours.SessionSendCredit);
        Assert.Equal(TimeSpan.FromSeconds(30), peer.Ours.NextDeadline); // keepalive, as on version 1
    }

    [Fact]
    public void Opens_accepts_half_closes_and_refuses_as_Go_does_byte_for_byte()
    {
        var client = YamuxPeer.Started(Role.Client);
        var mark = client.Mark();
        var one = client.Ours.CreateChannel();
        Assert.Equal(1u, one.ChannelId);
        Assert.Equal(YamuxGoldenVectors.Get("open_syn").Bytes, client.BytesSince(mark));

        mark = client.Mark();
        one.CompleteWrites();
        Assert.Equal(YamuxGoldenVectors.Get("fin").Bytes, client.BytesSince(mark));

        mark = client.Mark();
        client.Send(Window(YamuxFlags.Syn, 2, 0));
        Assert.Equal(YamuxGoldenVectors.Get("server_open_ack").Bytes, client.BytesSince(mark));

        var server = YamuxPeer.Started(Role.Server);
        mark = server.Mark();
        server.Send(Window(YamuxFlags.Syn, 1, 0));
        Assert.Equal(YamuxGoldenVectors.Get("accept_ack").Bytes, server.BytesSince(mark));
        mark = server.Mark();
        Assert.Equal(2u, server.Ours.CreateChannel().ChannelId);
        Assert.Equal(YamuxGoldenVectors.Get("server_open_syn").Bytes, server.BytesSince(mark));

        mark = server.Mark();
        server.Ours.GoAway();
        server.Send(Window(YamuxFlags.Syn, 3, 0));
        Assert.Equal(Wire.Concat(YamuxGoldenVectors.Get("goaway_normal").Bytes, Window(YamuxFlags.Rst, 3, 0)), server.BytesSince(mark));
    }

    [Fact]
    public void A_larger_initial_window_rides_on_the_open_and_the_accept_as_Gos_MaxStreamWindowSize_does()
    {
        var options = new ConnectionOptions { InitialChannelWindow = 1 << 20 };
        var client = YamuxPeer.Started(Role.Client, options: options);
        var mark = client.Mark();
        var channel = client.Ours.CreateChannel();
        Assert.Equal(YamuxGoldenVectors.Get("open_syn_window_1m").Bytes, client.BytesSince(mark));
        Assert.Equal(1 << 20, channel.ReceiveWindowSize);

        var server = YamuxPeer.Started(Role.Server, options: new ConnectionOptions { InitialChannelWindow = 1 << 20 });
        mark = server.Mark();
        server.Send(Window(YamuxFlags.Syn, 1, 0));
        Assert.Equal(YamuxGoldenVectors.Get("accept_ack_window_1m").Bytes, server.BytesSince(mark));

        // The 1 MiB is the stream's to fill at once.
        server.Send(Data(1, 1 << 20));
        Assert.Equal(1 << 20, server.Channels[1].Received.Length);
    }

    [Theory]
    [InlineData(Role.Client)]
    [InlineData(Role.Server)]
    public void Ids_go_up_by_two_from_the_sides_first_id(Role role)
    {
        var peer = YamuxPeer.Started(role);
        Assert.Equal([peer.OurId(1), peer.OurId(2), peer.OurId(3)], new[] { peer.Ours.CreateChannel(), peer.Ours.CreateChannel(), peer.Ours.CreateChannel() }.Select(c => c.ChannelId));
    }

    [Fact]
    public void A_label_is_refused_with_NotSupportedException_and_nothing_is_sent()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var mark = peer.Mark();

        Assert.Throws<NotSupportedException>(() => peer.Ours.CreateChannel("web"));
        Assert.Throws<NotSupportedException>(() => peer.Ours.CreateChannel(string.Empty));

        Assert.Empty(peer.BytesSince(mark));
        Assert.Equal(0, peer.Ours.OpenChannelCount);
        Assert.Equal(1u, peer.Ours.CreateChannel().ChannelId);
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void The_peers_ids_may_arrive_out_of_order_as_Gos_concurrent_opens_do(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed, peerOpens: [5, 1, 3]);
        Assert.Equal(3, peer.Ours.OpenChannelCount);
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void Data_may_follow_the_SYN_on_the_same_frame_and_the_window_starts_at_256_KiB(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed);

        var mark = peer.Mark();
        var payload = Wire.Pattern(Window, 3);
        peer.Send(Data(YamuxFlags.Syn, 1, payload));

        Assert.Equal(["ChannelCreated(1, remote=True)"], Describe(peer.EventsSince(mark)));
        Assert.Equal(payload, peer.Channels[1].Received.ToArray());

        // The ACK first; the credit for what was consumed (all of it: a quarter window at a time).
        var frames = peer.FramesSince(mark);
        Assert.Equal("Window(1, Ack, +0)", frames[0].ToString());
        Assert.Equal(Window, frames.Skip(1).Where(f => f.Type == YamuxFrameType.WindowUpdate && f.Flags == YamuxFlags.None).Sum(f => (long)f.Length));
    }

    [Fact]
    public void Writes_spend_the_256_KiB_window_in_frames_of_MaxFramePayload_and_wait_for_the_window_update()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var channel = peer.Ours.CreateChannel();
        var mark = peer.Mark();
        var data = Wire.Pattern(Window + 1000, 9);

        channel.Write(data);

        var frames = peer.FramesSince(mark);
        Assert.All(frames, f => Assert.Equal((YamuxFrameType.Data, YamuxFlags.None, 1u), (f.Type, f.Flags, f.StreamId)));
        Assert.Equal([65535, 65535, 65535, 65535, 4], frames.Select(f => (int)f.Length));
        Assert.Equal(1000, channel.QueuedBytes);
        Assert.Equal(0, channel.WritableBytes);

        mark = peer.Mark();
        peer.Send(Window(YamuxFlags.Ack, 1, 600));
        Assert.Equal(["Data(1, None, 600B)"], peer.FramesSince(mark).Select(f => f.ToString()));
        peer.Send(Window(YamuxFlags.None, 1, 1 << 20));
        Assert.Equal(0, channel.QueuedBytes);
        Assert.Equal(data, peer.AllFrames().Where(f => f.Type == YamuxFrameType.Data).SelectMany(f => f.Payload).ToArray());
    }

    [Fact]
    public void MaxFramePayload_is_the_largest_data_frame_sent_and_may_exceed_64_KiB()
    {
        var peer = YamuxPeer.Started(Role.Client, options: new ConnectionOptions { MaxFramePayload = 100_000 });
        var channel = peer.Ours.CreateChannel();
        var mark = peer.Mark();

        channel.Write(new byte[Window]);

        Assert.Equal([100_000, 100_000, Window - 200_000], peer.FramesSince(mark).Select(f => (int)f.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClientConnection(() => new TestChannel(), new ConnectionOptions { Protocol = WireProtocol.Yamux, MaxFramePayload = (16 << 20) + 1 }));
    }

    [Fact]
    public void An_initial_window_below_the_protocols_256_KiB_is_refused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ServerConnection(() => new TestChannel(), new ConnectionOptions { Protocol = WireProtocol.Yamux, InitialChannelWindow = Window - 1 }));
        Assert.Equal("InitialChannelWindow", error.ParamName);
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void Credit_goes_back_as_the_reader_consumes_a_quarter_window(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed, autoConsume: _ => false, peerOpens: [1]);
        var mark = peer.Mark();

        peer.Send(Data(1, Window / 2));
        Assert.Empty(peer.FramesSince(mark));
        Assert.Equal(Window / 2, peer.Ours.BufferedBytes);

        peer.Channels[1].ConsumeUpTo((Window / 4) - 1);
        Assert.Empty(peer.FramesSince(mark));
        peer.Channels[1].ConsumeUpTo(1);
        Assert.Equal([$"Window(1, None, +{Window / 4})"], peer.FramesSince(mark).Select(f => f.ToString()));
        Assert.Equal(Window / 4, peer.Ours.BufferedBytes);

        // With the window spent, any consumed byte goes back at once: the peer must not stall.
        mark = peer.Mark();
        peer.Send(Data(1, (3 * Window) / 4));
        peer.Channels[1].ConsumeUpTo(10);
        Assert.Equal(["Window(1, None, +10)"], peer.FramesSince(mark).Select(f => f.ToString()));
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void A_FIN_on_a_data_frame_ends_the_data_after_its_payload(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed, peerOpens: [1]);
        var channel = peer.Channels[1];

        peer.Send(Data(1, 1000, YamuxFlags.Fin));

        Assert.Equal(1000, channel.Received.Length);
        Assert.True(channel.EndOfData);
        Assert.True(channel.IsEndOfData);

        // Both sides ended and everything was consumed: completed, and nothing more is sent for it.
        var mark = peer.Mark();
        channel.CompleteWrites();
        Assert.Equal(["Window(1, Fin, +0)"], peer.FramesSince(mark).Select(f => f.ToString()));
        Assert.Equal(["ChannelClosed(1, Completed, code=none)"], Describe(peer.EventsSince(mark)));
    }

    [Fact]
    public void Half_close_both_ways_then_each_side_still_reads_and_writes()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var channel = peer.Ours.CreateChannel();
        channel.Write("ask"u8);
        channel.CompleteWrites();
        Assert.Throws<InvalidOperationException>(() => channel.Write("more"u8));

        peer.Send(Window(YamuxFlags.Ack, 1, 0), Data(YamuxFlags.None, 1, "answer"u8));
        Assert.Equal("answer"u8.ToArray(), peer.Channels[1].Received.ToArray());
        Assert.False(channel.IsClosed);

        var mark = peer.Mark();
        peer.Send(Window(YamuxFlags.Fin, 1, 0));
        Assert.Equal(["ChannelClosed(1, Completed, code=none)"], Describe(peer.EventsSince(mark)));
        Assert.Equal(["Data(1, None, 3B)", "Window(1, Fin, +0)"], peer.AllFrames().Skip(2).Select(f => f.ToString()));
    }

    [Fact]
    public void Close_ends_our_data_and_drops_what_arrives_but_gives_its_credit_back()
    {
        var peer = YamuxPeer.Started(Role.Server, autoConsume: _ => false, peerOpens: [1]);
        peer.Send(Data(1, 100));
        var mark = peer.Mark();

        peer.Channels[1].Close();
        peer.Send(Data(1, (Window / 4) - 100));

        Assert.Equal(["Window(1, Fin, +0)", $"Window(1, None, +{Window / 4})"], peer.FramesSince(mark).Select(f => f.ToString()));
        Assert.Equal([$"DataDiscarded(1, {(Window / 4) - 100})"], Describe(peer.EventsSince(mark)));
        Assert.Equal(0, peer.Ours.BufferedBytes);

        mark = peer.Mark();
        peer.Send(Window(YamuxFlags.Fin, 1, 0));
        Assert.Equal(["ChannelClosed(1, Completed, code=none)"], Describe(peer.EventsSince(mark)));
    }

    [Fact]
    public void Abort_sends_RST_without_a_code_and_closes_at_once()
    {
        var peer = YamuxPeer.Started(Role.Server, peerOpens: [1]);
        var mark = peer.Mark();

        peer.Channels[1].Abort(ErrorCode.ApplicationBase + 5);

        Assert.Equal([Window(YamuxFlags.Rst, 1, 0)], peer.FramesSince(mark).Select(f => f.Bytes));
        Assert.Equal([$"ChannelClosed(1, LocalReset, code={ErrorCode.ApplicationBase + 5})"], Describe(peer.EventsSince(mark)));

        // What Go still sends for it is ignored: credit, data in flight, its FIN.
        mark = peer.Mark();
        peer.Send(Window(YamuxFlags.None, 1, 1000), Data(1, 10), Window(YamuxFlags.Fin, 1, 0));
        Assert.Equal(["DataDiscarded(1, 10)"], Describe(peer.EventsSince(mark)));
        Assert.Empty(peer.FramesSince(mark));
    }

    [Fact]
    public void An_RST_before_the_ACK_is_a_refusal_and_after_it_a_reset()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var refused = peer.Ours.CreateChannel();
        var reset = peer.Ours.CreateChannel();
        var mark = peer.Mark();

        peer.Send(Window(YamuxFlags.Rst, refused.ChannelId, 0), Window(YamuxFlags.Ack, reset.ChannelId, 0), Window(YamuxFlags.Rst, reset.ChannelId, 0));

        var events = peer.EventsSince(mark).Cast<ChannelClosed>().ToList();
        Assert.Equal(["ChannelClosed(1, Refused, code=Refused)", "ChannelClosed(3, RemoteReset, code=Cancel)"], Describe(events));
        Assert.True(events[0].IsRetryable);
        Assert.False(events[1].IsRetryable);
        Assert.Empty(peer.FramesSince(mark));
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void SYN_and_RST_on_one_frame_open_then_reset_the_stream(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed);
        var mark = peer.Mark();

        peer.Send(Data(1, 5, YamuxFlags.Syn | YamuxFlags.Rst));

        Assert.Equal(["ChannelCreated(1, remote=True)", "ChannelClosed(1, RemoteReset, code=Cancel)", "DataDiscarded(1, 5)"], Describe(peer.EventsSince(mark)));
        Assert.Equal(["Window(1, Ack, +0)"], peer.FramesSince(mark).Select(f => f.ToString()));
    }

    [Fact]
    public void Pings_are_answered_on_stream_0_and_ours_carry_a_u32()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var mark = peer.Mark();

        peer.Send(Ping(YamuxFlags.Syn, 0), Ping(YamuxFlags.Syn, 1), Ping(YamuxFlags.Syn, 77, id: 9));
        Assert.Equal([Ping(YamuxFlags.Ack, 0), YamuxGoldenVectors.Get("ping_ack_1").Bytes, Ping(YamuxFlags.Ack, 77)], peer.FramesSince(mark).Select(f => f.Bytes));

        mark = peer.Mark();
        peer.Ours.Ping(uint.MaxValue);
        Assert.Equal([Ping(YamuxFlags.Syn, uint.MaxValue)], peer.FramesSince(mark).Select(f => f.Bytes));
        Assert.Throws<ArgumentOutOfRangeException>(() => peer.Ours.Ping((ulong)uint.MaxValue + 1));
        peer.SendAt(TimeSpan.FromMilliseconds(5), Ping(YamuxFlags.Ack, 12345), Ping(YamuxFlags.Ack, uint.MaxValue));
        var ack = Assert.IsType<PingAcknowledged>(Assert.Single(peer.EventsSince(mark)));
        Assert.Equal((uint.MaxValue, TimeSpan.FromMilliseconds(5)), (ack.Opaque, ack.RoundTripTime));
    }

    [Fact]
    public void The_first_ping_measures_the_round_trip_and_keepalive_pings_a_silent_peer()
    {
        var peer = YamuxPeer.Started(Role.Server, options: new ConnectionOptions { KeepAliveInterval = TimeSpan.FromSeconds(30), KeepAliveTimeout = TimeSpan.FromSeconds(90) });
        var first = Assert.Single(peer.AllFrames());
        peer.SendAt(TimeSpan.FromMilliseconds(20), Ping(YamuxFlags.Ack, first.Length));
        Assert.Equal(TimeSpan.FromMilliseconds(20), peer.Ours.SmoothedRtt);
        Assert.Empty(peer.Events.OfType<PingAcknowledged>());

        var mark = peer.Mark();
        Assert.Equal(TimeSpan.FromMilliseconds(20) + TimeSpan.FromSeconds(30), peer.Ours.NextDeadline);
        peer.Ours.HandleTimeout(TimeSpan.FromSeconds(31));
        peer.Drain();
        var keepAlive = Assert.Single(peer.FramesSince(mark));
        Assert.Equal((YamuxFrameType.Ping, YamuxFlags.Syn), (keepAlive.Type, keepAlive.Flags));

        // Silent past the timeout: a go-away with code 2 (Go's "internal error"), channels closed.
        mark = peer.Mark();
        peer.Ours.HandleTimeout(TimeSpan.FromSeconds(91));
        peer.Drain();
        Assert.Equal([GoAway(2)], peer.FramesSince(mark).Select(f => f.Bytes));
        Assert.IsType<KeepAliveTimedOut>(Assert.Single(peer.EventsSince(mark)));
    }

    [Theory]
    [InlineData(0u, ErrorCode.NoError)]
    [InlineData(1u, ErrorCode.ProtocolError)]
    [InlineData(2u, ErrorCode.InternalError)]
    [InlineData(77u, ErrorCode.ProtocolError)]
    public void A_go_away_closes_no_channel_and_no_new_ones_can_be_opened(uint code, ErrorCode expected)
    {
        var peer = YamuxPeer.Started(Role.Client);
        var channel = peer.Ours.CreateChannel();
        var mark = peer.Mark();

        peer.Send(GoAway(code));

        Assert.Equal([$"GoAwayReceived({uint.MaxValue}, {expected})"], Describe(peer.EventsSince(mark)));
        Assert.True(peer.Ours.IsGoingAway);
        Assert.Throws<InvalidOperationException>(() => peer.Ours.CreateChannel());

        // The channel in flight goes on both ways; the peer may still open its own.
        channel.Write("x"u8);
        peer.Send(Window(YamuxFlags.Ack, 1, 0), Data(YamuxFlags.None, 1, "y"u8));
        Assert.Equal("y"u8.ToArray(), peer.Channels[1].Received.ToArray());
        peer.PeerOpens(2);
    }

    [Fact]
    public void Our_go_away_refuses_the_peers_new_opens_and_lets_the_open_channels_finish()
    {
        var peer = YamuxPeer.Started(Role.Server, peerOpens: [1]);
        var mark = peer.Mark();

        peer.Ours.GoAway();
        peer.Ours.GoAway();
        peer.Send(Data(3, 10, YamuxFlags.Syn), Data(1, 10, YamuxFlags.Fin));

        Assert.Equal([GoAway(0), Window(YamuxFlags.Rst, 3, 0)], peer.FramesSince(mark).Select(f => f.Bytes));
        Assert.Equal(["DataDiscarded(3, 10)"], Describe(peer.EventsSince(mark)));
        Assert.True(peer.Channels[1].EndOfData);
        Assert.Throws<InvalidOperationException>(() => peer.Ours.CreateChannel());
    }

    [Fact]
    public void Close_sends_a_normal_go_away_and_closes_every_channel()
    {
        var peer = YamuxPeer.Started(Role.Client);
        peer.Ours.CreateChannel();
        var mark = peer.Mark();

        peer.Ours.Close();

        Assert.Equal([YamuxGoldenVectors.Get("goaway_normal").Bytes], peer.FramesSince(mark).Select(f => f.Bytes));
        Assert.Equal(["ChannelClosed(1, ConnectionClosed, code=none)"], Describe(peer.EventsSince(mark)));
    }

    [Fact]
    public void Opens_past_MaxConcurrentChannels_256_by_default_are_refused()
    {
        var peer = YamuxPeer.Started(Role.Server);
        Assert.Equal(ConnectionOptions.DefaultYamuxMaxConcurrentChannels, peer.Ours.LocalSettings.MaxConcurrentChannels);
        for (int i = 1; i <= 256; i++)
        {
            peer.PeerOpens(peer.PeerId(i));
        }

        var mark = peer.Mark();
        peer.Send(Window(YamuxFlags.Syn, peer.PeerId(257), 0));
        Assert.Equal([Window(YamuxFlags.Rst, 513, 0)], peer.FramesSince(mark).Select(f => f.Bytes));
        Assert.Empty(peer.EventsSince(mark));

        // One closes: the next open is taken.
        peer.Channels[1].Abort();
        peer.PeerOpens(515);
    }

    [Fact]
    public void Window_growth_above_256_KiB_comes_out_of_the_session_budget_and_goes_back_when_the_channel_closes()
    {
        var peer = YamuxPeer.Started(Role.Client, options: new ConnectionOptions { SessionReceiveBudget = 1 << 20 });
        var a = peer.Ours.CreateChannel();
        var b = peer.Ours.CreateChannel();
        var mark = peer.Mark();

        a.ExtendWindow(4 << 20);
        b.ExtendWindow(4 << 20);

        // a grows to the budget (a window never exceeds it); b gets what is left of it.
        Assert.Equal(1 << 20, a.ReceiveWindowSize);
        Assert.Equal(Window + (Window * 1), b.ReceiveWindowSize);
        Assert.Equal(["Window(1, None, +786432)", "Window(3, None, +262144)"], peer.FramesSince(mark).Select(f => f.ToString()));

        mark = peer.Mark();
        var c = peer.Ours.CreateChannel();
        c.ExtendWindow(1);
        Assert.Equal(Window, c.ReceiveWindowSize);
        a.Abort();
        c.ExtendWindow(4 << 20);
        Assert.Equal(1 << 20, c.ReceiveWindowSize);
        Assert.Equal(["Window(5, Syn, +0)", "Window(1, Rst, +0)", "Window(5, None, +786432)"], peer.FramesSince(mark).Select(f => f.ToString()));
    }

    [Fact]
    public void Auto_tuning_doubles_a_busy_window_while_the_session_budget_has_room()
    {
        var peer = YamuxPeer.Started(Role.Server, options: new ConnectionOptions { SessionReceiveBudget = 3 * Window });
        var first = Assert.Single(peer.AllFrames());
        peer.SendAt(TimeSpan.FromMilliseconds(100), Ping(YamuxFlags.Ack, first.Length));
        peer.PeerOpens(1);
        peer.PeerOpens(3);
        peer.PeerOpens(5);

        // A quarter window consumed in far less than a round trip: the window limits; it doubles,
        // for each stream, until the budget's 768 KiB of growth are taken.
        var mark = peer.Mark();
        peer.SendAt(TimeSpan.FromMilliseconds(101), Data(1, Window / 4));
        peer.SendAt(TimeSpan.FromMilliseconds(102), Data(3, Window / 4));
        peer.SendAt(TimeSpan.FromMilliseconds(103), Data(5, Window / 4));
        Assert.Equal(
            [$"Window(1, None, +{(Window / 4) + Window})", $"Window(3, None, +{(Window / 4) + Window})", $"Window(5, None, +{(Window / 4) + Window})"],
            peer.FramesSince(mark).Select(f => f.ToString()));
        Assert.All(peer.Channels.Values, c => Assert.Equal(2 * Window, c.ReceiveWindowSize));

        mark = peer.Mark();
        peer.SendAt(TimeSpan.FromMilliseconds(104), Data(1, Window / 2));
        Assert.Equal([$"Window(1, None, +{Window / 2})"], peer.FramesSince(mark).Select(f => f.ToString()));
        Assert.Equal(2 * Window, peer.Channels[1].ReceiveWindowSize);

        // A stream that closes gives its growth back, for the next one that is busy.
        peer.Channels[3].Abort();
        mark = peer.Mark();
        peer.SendAt(TimeSpan.FromMilliseconds(105), Data(1, Window / 2));
        Assert.Equal([$"Window(1, None, +{(Window / 2) + Window})"], peer.FramesSince(mark).Select(f => f.ToString()));
        Assert.Equal(3 * Window, peer.Channels[1].ReceiveWindowSize);
    }

    [Fact]
    public void A_channel_whose_callback_throws_is_reset_and_the_connection_goes_on()
    {
        var server = new ServerConnection(_ => new ThrowingChannel(), new ConnectionOptions { Protocol = WireProtocol.Yamux });
        server.ConnectionEstablished();
        Wire.Drain(server);

        server.DataReceived(Wire.Concat(Data(1, 3, YamuxFlags.Syn), Window(YamuxFlags.Syn, 3, 0)));

        var events = Wire.Drain(server);
        Assert.Equal(["ChannelCreated(1, remote=True)", "ChannelClosed(1, ApplicationError, InvalidOperationException)", "ChannelCreated(3, remote=True)"], events.Where(e => e is not DataTransmit).Select(Wire.Describe));
        Assert.Equal(
            [Window(YamuxFlags.Ack, 1, 0), Window(YamuxFlags.Rst, 1, 0), Window(YamuxFlags.Ack, 3, 0)],
            Decode(Wire.Transmitted(events)).Select(f => f.Bytes));
    }

    private sealed class ThrowingChannel : Channel
    {
        protected override void DataReceived(ReadOnlySpan<byte> data) => throw new InvalidOperationException("boom");
    }
}
