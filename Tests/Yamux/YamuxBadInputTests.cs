using TcpChan.Core;
using TcpChan.Core.Yamux;
using TcpChan.Tests.Support;
using TcpChan.Tests.V1;
using Xunit;
using static TcpChan.Tests.Yamux.YamuxPeer;

namespace TcpChan.Tests.Yamux;

/// <summary>
/// Bad yamux input (docs/PROTOCOL.md, "Bad input in yamux mode"): each case's exact event, code
/// and message, what goes on the wire (a go-away with code 1 for a connection error, an RST for
/// a channel error), whole and a byte per call; and nothing after a connection error.
/// </summary>
public sealed class YamuxBadInputTests
{
    private const uint Window = YamuxProtocol.InitialStreamWindow;

    public static TheoryData<string, byte[], ErrorCode, string> ConnectionErrors() => new()
    {
        { "version 1", Header(YamuxFrameType.Data, YamuxFlags.None, 1, 0).With(0, 1), ErrorCode.ProtocolError, "Yamux version byte 1." },
        { "version 255", Window(YamuxFlags.None, 1, 5).With(0, 255), ErrorCode.ProtocolError, "Yamux version byte 255." },
        { "type 4", Header(YamuxFrameType.Data, YamuxFlags.None, 1, 0).With(1, 4), ErrorCode.UnknownFrameType, "Unknown yamux type 4." },
        { "type 255", Header(YamuxFrameType.Data, YamuxFlags.None, 1, 0).With(1, 255), ErrorCode.UnknownFrameType, "Unknown yamux type 255." },
        { "HTTP", "GET / HTTP/1.1\r\n"u8.ToArray(), ErrorCode.ProtocolError, "Yamux version byte 71." },
        { "SYN on stream 0", Window(YamuxFlags.Syn, 0, 0), ErrorCode.ProtocolError, "The peer opened stream 0, an id of the session." },
        { "SYN of this side's parity", Window(YamuxFlags.Syn, 2, 0), ErrorCode.ProtocolError, "The peer opened stream 2, an id of this side." },
        { "SYN on a data frame of this side's parity", Data(4, 3, YamuxFlags.Syn), ErrorCode.ProtocolError, "The peer opened stream 4, an id of this side." },
        { "SYN on an open stream", Window(YamuxFlags.Syn, 1, 0), ErrorCode.ChannelIdInUse, "The peer opened stream 1, which is already open." },
        { "data beyond the window", Header(YamuxFrameType.Data, YamuxFlags.None, 1, Window + 1), ErrorCode.FlowControlError, "262145 bytes on channel 1 with 262144 bytes of credit." },
        { "data beyond the window on its SYN", Header(YamuxFrameType.Data, YamuxFlags.Syn, 3, Window + 1), ErrorCode.FlowControlError, "262145 bytes on channel 3 with 262144 bytes of credit." },
        { "data above 2^31-1 on a stream not open", Header(YamuxFrameType.Data, YamuxFlags.None, 9, 1u << 31), ErrorCode.FlowControlError, "A data frame of 2147483648 bytes on stream 9." },
        { "window overflow", Window(YamuxFlags.None, 1, uint.MaxValue - Window + 1), ErrorCode.FlowControlError, "Credit of channel 1 above 2^32-1." },
        { "window overflow in two steps", Wire.Concat(Window(YamuxFlags.None, 1, uint.MaxValue - Window), Window(YamuxFlags.None, 1, 1)), ErrorCode.FlowControlError, "Credit of channel 1 above 2^32-1." },
    };

    [Theory]
    [MemberData(nameof(ConnectionErrors))]
    public void A_connection_error_sends_go_away_1_closes_every_channel_first_and_ignores_what_follows(string what, byte[] input, ErrorCode code, string message)
    {
        foreach (var feed in new[] { Feed.Whole, Feed.ByteByByte })
        {
            var peer = YamuxPeer.Started(Role.Server, feed, peerOpens: [1]);
            var mark = peer.Mark();

            peer.Send(input);

            var events = peer.EventsSince(mark);
            Assert.Equal(["ChannelClosed(1, ProtocolError, code=none)", $"ProtocolError({code})"], Describe(events));
            Assert.Equal(message, ((ProtocolError)events[^1]).Message);
            Assert.Equal([GoAway(1)], peer.FramesSince(mark).Select(f => f.Bytes));
            Assert.Equal(ConnectionState.Failed, peer.Ours.State);
            Assert.True(peer.Channels[1].IsClosed, what);

            mark = peer.Mark();
            peer.Send(Window(YamuxFlags.Syn, 5, 0), Data(5, 10), Ping(YamuxFlags.Syn, 1));
            Assert.Empty(peer.EventsSince(mark));
            Assert.Empty(peer.BytesSince(mark));
        }
    }

    [Theory]
    [InlineData("01", ErrorCode.ProtocolError)]
    [InlineData("0004", ErrorCode.UnknownFrameType)]
    [InlineData("47", ErrorCode.ProtocolError)]
    public void A_bad_version_or_type_byte_is_judged_as_soon_as_it_arrives(string hex, ErrorCode code)
    {
        var peer = YamuxPeer.Started(Role.Client);
        var mark = peer.Mark();

        peer.Send(Wire.Hex(hex));

        Assert.Equal([$"ProtocolError({code})"], Describe(peer.EventsSince(mark)));
    }

    [Fact]
    public void The_largest_window_a_u32_holds_is_fine()
    {
        var peer = YamuxPeer.Started(Role.Server, peerOpens: [1]);
        var mark = peer.Mark();

        peer.Send(Window(YamuxFlags.None, 1, uint.MaxValue - Window), Window(YamuxFlags.None, 1, 0));

        Assert.Empty(peer.EventsSince(mark));
        Assert.Equal(uint.MaxValue, peer.Channels[1].WritableBytes);
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void A_second_FIN_resets_the_stream_and_the_connection_goes_on(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed, peerOpens: [1, 3]);
        peer.Send(Window(YamuxFlags.Fin, 1, 0));
        var mark = peer.Mark();

        peer.Send(Window(YamuxFlags.Fin, 1, 0));

        AssertChannelError(peer, mark, 1, "A second end of data.");
        peer.Send(Data(3, 7));
        Assert.Equal(7, peer.Channels[3].Received.Length);
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void Data_after_FIN_resets_the_stream_and_is_discarded(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed, peerOpens: [1]);
        peer.Send(Data(1, 4, YamuxFlags.Fin));
        var mark = peer.Mark();

        peer.Send(Data(1, 6));

        AssertChannelError(peer, mark, 1, "Data after end of data.", discarded: 6);
        Assert.Equal(4, peer.Channels[1].Received.Length);
        Assert.Equal(ConnectionState.Established, peer.Ours.State);
    }

    [Theory]
    [InlineData(Feed.Whole)]
    [InlineData(Feed.ByteByByte)]
    public void Frames_for_a_stream_not_open_are_ignored_and_their_data_reported_discarded(Feed feed)
    {
        var peer = YamuxPeer.Started(Role.Server, feed, peerOpens: [1]);
        peer.Channels[1].Abort();
        var mark = peer.Mark();

        // A closed stream (Go sends what was in flight, and updates for streams it read), one
        // never opened, this side's parity, stream 0, ACK, FIN and RST without SYN.
        peer.Send(
            Data(1, 100),
            Window(YamuxFlags.None, 1, 4096),
            Window(YamuxFlags.Fin, 1, 0),
            Window(YamuxFlags.Rst, 1, 0),
            Data(7, 5, YamuxFlags.Ack),
            Window(YamuxFlags.Ack, 9, 10),
            Data(2, 3),
            Data(0, 1),
            Data(11, 0, YamuxFlags.Fin));

        Assert.Equal(["DataDiscarded(1, 100)", "DataDiscarded(7, 5)", "DataDiscarded(2, 3)", "DataDiscarded(0, 1)"], Describe(peer.EventsSince(mark)));
        Assert.Empty(peer.BytesSince(mark));
        Assert.Equal(ConnectionState.Established, peer.Ours.State);
        peer.PeerOpens(13);
    }

    [Fact]
    public void An_ACK_on_a_stream_the_peer_opened_or_a_second_ACK_is_ignored_and_undefined_flags_too()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var ours = peer.Ours.CreateChannel();
        peer.PeerOpens(2);
        var mark = peer.Mark();

        peer.Send(
            Window(YamuxFlags.Ack, 2, 0),
            Window(YamuxFlags.Ack, 1, 0),
            Window(YamuxFlags.Ack, 1, 0),
            Window((YamuxFlags)0xFFF0, 1, 5),
            Data((YamuxFlags)0x8000, 2, "hi"u8));

        Assert.Empty(peer.EventsSince(mark));
        Assert.Empty(peer.BytesSince(mark));
        Assert.Equal(Window + 5, ours.WritableBytes);
        Assert.Equal("hi"u8.ToArray(), peer.Channels[2].Received.ToArray());

        // Acknowledged: a later RST is a reset, not a refusal.
        peer.Send(Window(YamuxFlags.Rst, 1, 0));
        Assert.Equal(["ChannelClosed(1, RemoteReset, code=Cancel)"], Describe(peer.EventsSince(mark)));
    }

    [Fact]
    public void A_ping_answer_that_matches_nothing_and_go_away_fields_are_ignored()
    {
        var peer = YamuxPeer.Started(Role.Client);
        var mark = peer.Mark();

        peer.Send(Ping(YamuxFlags.Ack, 999), Ping(YamuxFlags.None, 998), Header(YamuxFrameType.GoAway, YamuxFlags.Syn | YamuxFlags.Fin, 77, 0));

        Assert.Equal([$"GoAwayReceived({uint.MaxValue}, NoError)"], Describe(peer.EventsSince(mark)));
        Assert.Empty(peer.BytesSince(mark));
    }

    [Fact]
    public void A_frame_cut_at_every_byte_gives_the_same_events_as_whole()
    {
        byte[] conversation = Wire.Concat(
            Data(1, 300, YamuxFlags.Syn),
            Window(YamuxFlags.Syn, 3, 0),
            Ping(YamuxFlags.Syn, 5),
            Data(3, 70_000),
            Window(YamuxFlags.Fin, 1, 0),
            Data(3, 2, YamuxFlags.Fin),
            Window(YamuxFlags.Rst, 3, 0),
            GoAway(0));
        var whole = YamuxPeer.Started(Role.Server, Feed.Whole);
        whole.Send(conversation);
        var split = YamuxPeer.Started(Role.Server, Feed.ByteByByte);
        split.Send(conversation);

        // The same events and frames; only credit may go back in other batches, as the bytes came.
        static bool IsCredit(YamuxSentFrame f) => f.Type == YamuxFrameType.WindowUpdate && f.Flags == YamuxFlags.None;
        Assert.Equal(Describe(whole.Events), Describe(split.Events));
        Assert.Equal(whole.AllFrames().Where(f => !IsCredit(f)).Select(f => f.ToString()), split.AllFrames().Where(f => !IsCredit(f)).Select(f => f.ToString()));
        Assert.Equal(whole.Channels[3].Received.ToArray(), split.Channels[3].Received.ToArray());
        Assert.Equal(70_002, whole.Channels[3].Received.Length);
    }

    private static void AssertChannelError(YamuxPeer peer, (int, int) mark, uint id, string message, int discarded = 0)
    {
        var events = peer.EventsSince(mark);
        var expected = new List<string> { $"ChannelClosed({id}, LocalReset, code=ProtocolError)" };
        if (discarded > 0)
        {
            expected.Add($"DataDiscarded({id}, {discarded})");
        }

        Assert.Equal(expected, Describe(events));
        var closed = (ChannelClosed)events[0];
        Assert.Equal(message, Assert.IsType<InvalidDataException>(closed.Exception).Message);
        Assert.Equal([Window(YamuxFlags.Rst, id, 0)], peer.FramesSince(mark).Select(f => f.Bytes));
    }
}

internal static class YamuxBytes
{
    /// <summary>A copy of <paramref name="frame"/> with byte <paramref name="index"/> set to <paramref name="value"/>.</summary>
    public static byte[] With(this byte[] frame, int index, byte value)
    {
        var copy = frame.ToArray();
        copy[index] = value;
        return copy;
    }
}
