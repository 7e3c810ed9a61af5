using System.Text;
using TcpChan.Core;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests;

public class BadInputTests
{
    /// <summary>A server past its handshake, every event taken; its channels go to <paramref name="channels"/>.</summary>
    private static ServerConnection EstablishedServer(List<RecordingChannel> channels, params uint[] openIds)
    {
        var server = new ServerConnection(() =>
        {
            var channel = new RecordingChannel();
            channels.Add(channel);
            return channel;
        }, V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Request());
        foreach (uint id in openIds)
        {
            server.DataReceived(Wire.Create(id));
        }

        Wire.Drain(server);
        return server;
    }

    private static ServerConnection EstablishedServer(params uint[] openIds) => EstablishedServer(new List<RecordingChannel>(), openIds);

    [Fact]
    public void Unknown_op_closes_channels_first_then_reports_UnknownFrameType_last_and_ignores_later_input()
    {
        var channels = new List<RecordingChannel>();
        var server = EstablishedServer(channels, 7, 9);

        server.DataReceived(Wire.Hex("000900000007"));

        var events = Wire.Drain(server);
        Assert.Equal(3, events.Count);
        Assert.Equal(
            new[] { "ChannelClosed(7, ProtocolError)", "ChannelClosed(9, ProtocolError)" }.Order(),
            events.Take(2).Select(Wire.Describe).Order());
        var error = Assert.IsType<ProtocolError>(events[2]);
        Assert.Equal(ErrorCode.UnknownFrameType, error.Code);
        Assert.Contains("9", error.Message, StringComparison.Ordinal);
        Assert.Equal(ConnectionState.Failed, server.State);
        Assert.Equal(0, server.OpenChannelCount);
        Assert.All(channels, c => Assert.Equal([ChannelCloseReason.ProtocolError], c.CloseReasons));

        server.DataReceived(Wire.Concat(Wire.Create(11), Wire.Payload(7, "x"), Wire.Hex("00ff")));
        Assert.False(server.HasEvents);
        Assert.Equal(0, server.OpenChannelCount);
    }

    [Fact]
    public void Unknown_op_with_more_bytes_behind_it_in_the_same_call_stops_there()
    {
        var server = EstablishedServer();
        server.DataReceived(Wire.Concat(Wire.Create(1), Wire.Hex("0006"), Wire.Create(2)));

        Assert.Equal(
            ["ChannelCreated(1, remote=True)", "ChannelClosed(1, ProtocolError)", "ProtocolError(UnknownFrameType)"],
            Wire.Drain(server).Select(Wire.Describe));
    }

    [Fact]
    public void Unknown_op_split_after_its_version_byte_is_reported_like_whole()
    {
        var whole = EstablishedServer(7);
        whole.DataReceived(Wire.Hex("0009"));
        var expected = Wire.Drain(whole);

        // Version byte alone, then the op byte alone.
        var split = EstablishedServer(7);
        split.DataReceived(Wire.Hex("00"));
        split.DataReceived(Wire.Hex("09"));
        var actual = Wire.Drain(split);

        Assert.Equal(expected.Select(Wire.Describe), actual.Select(Wire.Describe));
        Assert.Equal(
            Assert.IsType<ProtocolError>(expected[^1]).Message,
            Assert.IsType<ProtocolError>(actual[^1]).Message);

        // Version byte alone, then op and more.
        var split2 = EstablishedServer(7);
        split2.DataReceived(Wire.Hex("00"));
        split2.DataReceived(Wire.Hex("0900000007"));
        Assert.Equal(
            Assert.IsType<ProtocolError>(expected[^1]).Message,
            Assert.IsType<ProtocolError>(Wire.Drain(split2)[^1]).Message);
    }

    [Theory]
    [InlineData("01030000000700")] // create, version 1 (whose create carries a label length)
    [InlineData("ff0400000007")] // close, version 255
    [InlineData("01050000000700026869")] // payload, version 1
    public void Wrong_version_byte_after_the_handshake_is_a_protocol_error(string hex)
    {
        var channels = new List<RecordingChannel>();
        var server = EstablishedServer(channels, 7);

        server.DataReceived(Wire.Hex(hex));

        Assert.Equal(
            ["ChannelClosed(7, ProtocolError)", "ProtocolError(ProtocolError)"],
            Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal(ConnectionState.Failed, server.State);
        Assert.Empty(Assert.Single(channels).Received);

        server.DataReceived(Wire.Create(8));
        Assert.False(server.HasEvents);
    }

    [Theory]
    [InlineData("000300000003")] // create, version 0
    [InlineData("00050000000100026869")] // payload, version 0
    [InlineData("020400000001")] // end of data, version 2
    public void Wrong_version_byte_on_a_version_1_connection_is_a_protocol_error(string hex)
    {
        var channels = new List<RecordingChannel>();
        var server = new ServerConnection(() => { var c = new RecordingChannel(); channels.Add(c); return c; });
        server.ConnectionEstablished();
        server.DataReceived(Wire.Concat(Wire.Request(version: 1), Wire.Settings(), Wire.Open(1)));
        Assert.Equal(1, server.Version);
        Wire.Drain(server);

        server.DataReceived(Wire.Hex(hex));

        var events = Wire.Drain(server);
        Assert.Equal(["ChannelClosed(1, ProtocolError)", "ProtocolError(ProtocolError)"], Wire.DescribeNonTransmit(events));
        var goAway = Assert.Single(Wire.DecodeAll(Wire.Transmitted(events))).Header;
        Assert.Equal(Core.Frames.FrameType.GoAway, goAway.Type);
        Assert.Equal((uint)ErrorCode.ProtocolError, goAway.Argument);
        Assert.Equal(ConnectionState.Failed, server.State);
        Assert.Empty(Assert.Single(channels).Received);
    }

    [Fact]
    public void Create_of_an_open_id_is_ChannelIdInUse()
    {
        var channels = new List<RecordingChannel>();
        var server = EstablishedServer(channels, 7, 8);

        server.DataReceived(Wire.Create(7));

        var events = Wire.Drain(server);
        Assert.Equal(3, events.Count);
        Assert.All(events.Take(2), e => Assert.Equal(ChannelCloseReason.ProtocolError, Assert.IsType<ChannelClosed>(e).Reason));
        Assert.Equal(ErrorCode.ChannelIdInUse, Assert.IsType<ProtocolError>(events[2]).Code);
        Assert.Equal(2, channels.Count); // the factory was not asked again
        Assert.Equal(ConnectionState.Failed, server.State);
    }

    [Fact]
    public void Payload_for_an_unknown_channel_is_discarded_with_its_byte_count_and_the_connection_goes_on()
    {
        var channels = new List<RecordingChannel>();
        var server = EstablishedServer(channels, 7);

        server.DataReceived(Wire.Concat(Wire.Payload(99, "hello"), Wire.Payload(7, "ok")));

        Assert.Equal(["DataDiscarded(99, 5)"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal("ok", Encoding.ASCII.GetString(channels[0].Received));
        Assert.Equal(ConnectionState.Established, server.State);

        server.DataReceived(Wire.Create(99));
        Assert.Equal(["ChannelCreated(99, remote=True)"], Wire.Drain(server).Select(Wire.Describe));
    }

    [Fact]
    public void Empty_payload_for_an_unknown_channel_reports_nothing()
    {
        var server = EstablishedServer();
        server.DataReceived(Wire.Payload(99, ""));
        Assert.False(server.HasEvents);
    }

    [Fact]
    public void Payload_for_a_channel_closed_here_is_discarded_and_the_connection_goes_on()
    {
        var channels = new List<RecordingChannel>();
        var server = EstablishedServer(channels, 7, 8);
        Assert.True(server.CloseChannel(7));
        Assert.Equal(["DataTransmit(000400000007)", "ChannelClosed(7, LocalClose)"], Wire.Drain(server).Select(Wire.Describe));

        // The peer wrote before it saw our close: a normal race.
        var big = Wire.Pattern(70_000, 1);
        server.DataReceived(Wire.Concat(Wire.Payload(7, big.AsSpan(0, 65535)), Wire.Payload(7, big.AsSpan(65535)), Wire.CloseFrame(7), Wire.Payload(8, "still here")));

        Assert.Equal(["DataDiscarded(7, 65535)", "DataDiscarded(7, 4465)"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Empty(channels[0].Received);
        Assert.Equal("still here", Encoding.ASCII.GetString(channels[1].Received));
        Assert.Equal(ConnectionState.Established, server.State);
    }

    [Fact]
    public void Close_of_an_unknown_channel_is_a_no_op()
    {
        var server = EstablishedServer(7);
        server.DataReceived(Wire.CloseFrame(12345));
        Assert.False(server.HasEvents);
        Assert.Equal(ConnectionState.Established, server.State);
        Assert.Equal(1, server.OpenChannelCount);
    }

    /// <summary>A valid server-side stream touching every kind of frame and outcome.</summary>
    private static byte[] ValidServerStream() => Wire.Concat(
        Wire.Request(),
        Wire.Create(7),
        Wire.Payload(7, "hello"),
        Wire.Create(9),
        Wire.Payload(9, Wire.Pattern(300, 9)),
        Wire.Payload(1, ""),
        Wire.CloseFrame(7),
        Wire.Payload(7, "late"),
        Wire.CloseFrame(12345),
        Wire.Create(0xFFFFFFFF),
        Wire.Payload(0xFFFFFFFF, "last"),
        Wire.CloseFrame(9));

    private static (List<string> Events, string Transmitted, List<string> Channels) Run(byte[] stream, params int[] cuts)
    {
        var channels = new List<RecordingChannel>();
        var server = new ServerConnection(() =>
        {
            var channel = new RecordingChannel();
            channels.Add(channel);
            return channel;
        }, V0.Options());
        server.ConnectionEstablished();
        int at = 0;
        foreach (int cut in cuts.Append(stream.Length))
        {
            server.DataReceived(stream.AsSpan(at, cut - at));
            at = cut;
        }

        var events = Wire.Drain(server);
        return (Wire.DescribeNonTransmit(events), Wire.ToHex(Wire.Transmitted(events)),
            channels.Select(c => $"{c.ChannelId}:{Wire.ToHex(c.Received)}:{string.Join(",", c.CloseReasons)}").ToList());
    }

    [Fact]
    public void Valid_stream_cut_at_every_position_gives_the_same_events_as_whole()
    {
        var stream = ValidServerStream();
        var whole = Run(stream);
        Assert.Equal(
            [
                "HandshakeSuccess(0)",
                "ChannelCreated(7, remote=True)",
                "ChannelCreated(9, remote=True)",
                "ChannelClosed(7, RemoteClose)",
                "DataDiscarded(7, 4)",
                "ChannelCreated(4294967295, remote=True)",
                "ChannelClosed(9, RemoteClose)",
            ],
            whole.Events);
        Assert.Equal("0002feedbacc", whole.Transmitted);

        for (int cut = 0; cut <= stream.Length; cut++)
        {
            var split = Run(stream, cut);
            Assert.Equal(whole.Events, split.Events);
            Assert.Equal(whole.Transmitted, split.Transmitted);
            Assert.Equal(whole.Channels, split.Channels);
        }
    }

    [Fact]
    public void Valid_stream_fed_one_byte_at_a_time_gives_the_same_events_as_whole()
    {
        var stream = ValidServerStream();
        Assert.Equal(Run(stream), Run(stream, Enumerable.Range(1, stream.Length - 1).ToArray()), new RunComparer());
    }

    private sealed class RunComparer : IEqualityComparer<(List<string> Events, string Transmitted, List<string> Channels)>
    {
        public bool Equals((List<string> Events, string Transmitted, List<string> Channels) x, (List<string> Events, string Transmitted, List<string> Channels) y) =>
            x.Events.SequenceEqual(y.Events) && x.Transmitted == y.Transmitted && x.Channels.SequenceEqual(y.Channels);

        public int GetHashCode((List<string> Events, string Transmitted, List<string> Channels) obj) => obj.Transmitted.GetHashCode(StringComparison.Ordinal);
    }

    [Fact]
    public void DataReceived_before_ConnectionEstablished_throws()
    {
        var server = new ServerConnection(() => new RecordingChannel(), V0.Options());
        Assert.Throws<InvalidOperationException>(() => server.DataReceived(Wire.Request()));
        var client = new ClientConnection(() => new RecordingChannel(), V0.Options());
        Assert.Throws<InvalidOperationException>(() => client.DataReceived(Wire.Reply()));
        Assert.Throws<InvalidOperationException>(() => client.DataReceived(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Write_after_channel_Close_throws_ChannelClosedException()
    {
        var pair = new InMemoryPair();
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        pair.Pump();
        channel.Close();
        channel.Close(); // idempotent

        var ex = Assert.Throws<ChannelClosedException>(() => channel.Write([1, 2, 3]));
        Assert.Equal(channel.ChannelId, ex.ChannelId);
        Assert.Equal(ChannelCloseReason.LocalClose, ex.Reason);
        Assert.Throws<ChannelClosedException>(() => channel.Write(ReadOnlySpan<byte>.Empty));

        // On the other side the channel is closed by the peer.
        pair.Pump();
        var remote = pair.ServerChannels.Single();
        var remoteEx = Assert.Throws<ChannelClosedException>(() => remote.Write([1]));
        Assert.Equal(ChannelCloseReason.RemoteClose, remoteEx.Reason);
    }

    [Fact]
    public void Write_after_connection_Close_throws_ChannelClosedException()
    {
        var pair = new InMemoryPair();
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        pair.Client.Close();

        Assert.Equal(ChannelCloseReason.ConnectionClosed, Assert.Throws<ChannelClosedException>(() => channel.Write([1])).Reason);
    }

    [Fact]
    public void CreateChannel_before_the_handshake_throws()
    {
        var client = new ClientConnection(() => new RecordingChannel(), V0.Options());
        Assert.Throws<InvalidOperationException>(() => client.CreateChannel()); // idle
        client.ConnectionEstablished();
        Assert.Throws<InvalidOperationException>(() => client.CreateChannel()); // handshaking

        var server = new ServerConnection(() => new RecordingChannel(), V0.Options());
        server.ConnectionEstablished();
        Assert.Throws<InvalidOperationException>(() => server.CreateChannel());
    }

    [Fact]
    public void CreateChannel_after_Close_throws()
    {
        var pair = new InMemoryPair();
        pair.Handshake();
        pair.Client.Close();
        Assert.Throws<InvalidOperationException>(() => pair.Client.CreateChannel());
    }

    [Fact]
    public void CloseChannel_of_an_unknown_id_returns_false_and_does_nothing()
    {
        var server = EstablishedServer(7);
        Assert.False(server.CloseChannel(8));
        Assert.False(server.HasEvents);
        Assert.True(server.CloseChannel(7));
        Assert.False(server.CloseChannel(7));
    }

    [Fact]
    public void Channel_whose_DataReceived_throws_is_closed_with_ApplicationError_and_others_go_on()
    {
        var pair = new InMemoryPair();
        pair.Handshake();
        var bad = pair.Client.CreateChannel();
        var good = pair.Client.CreateChannel();
        pair.Pump();
        var badRemote = pair.ServerChannels.Single(c => c.ChannelId == bad.ChannelId);
        var goodRemote = pair.ServerChannels.Single(c => c.ChannelId == good.ChannelId);
        var boom = new InvalidOperationException("boom");
        badRemote.OnData = _ => throw boom;

        bad.Write(Encoding.ASCII.GetBytes("first"));
        good.Write(Encoding.ASCII.GetBytes("one"));
        pair.Pump();

        var closed = Assert.IsType<ChannelClosed>(pair.ServerEvents[^1]);
        Assert.Equal(bad.ChannelId, closed.ChannelId);
        Assert.Equal(ChannelCloseReason.ApplicationError, closed.Reason);
        Assert.Same(boom, closed.Exception);
        Assert.Equal([ChannelCloseReason.ApplicationError], badRemote.CloseReasons);
        Assert.Equal(ConnectionState.Established, pair.Server.State);

        // The close frame reached the client.
        Assert.Equal($"ChannelClosed({bad.ChannelId}, RemoteClose)", Wire.Describe(pair.ClientEvents[^1]));
        Assert.True(bad.IsClosed);

        // The other channel still works both ways.
        good.Write(Encoding.ASCII.GetBytes(" two"));
        goodRemote.Write(Encoding.ASCII.GetBytes("back"));
        pair.Pump();
        Assert.Equal("one two", Encoding.ASCII.GetString(goodRemote.Received));
        Assert.Equal("back", Encoding.ASCII.GetString(pair.ClientChannels.Single(c => c.ChannelId == good.ChannelId).Received));
        Assert.Equal(1, pair.Server.OpenChannelCount);
        Assert.Equal(1, pair.Client.OpenChannelCount);
    }

    [Fact]
    public void Channel_whose_DataReceived_throws_on_a_frame_sends_one_close_frame()
    {
        var channels = new List<RecordingChannel>();
        var server = EstablishedServer(channels, 7);
        channels[0].OnData = _ => throw new FormatException();

        server.DataReceived(Wire.Concat(Wire.Payload(7, "a"), Wire.Payload(7, "b")));

        Assert.Equal(
            ["DataTransmit(000400000007)", "ChannelClosed(7, ApplicationError, FormatException)", "DataDiscarded(7, 1)"],
            Wire.Drain(server).Select(Wire.Describe));
    }

    [Fact]
    public void Factory_that_throws_on_a_remote_create_gives_ApplicationError_and_a_close_frame_back()
    {
        var boom = new InvalidOperationException("no");
        var server = new ServerConnection(info => info.ChannelId == 7 ? throw boom : new RecordingChannel(), V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Request());
        Wire.Drain(server);

        server.DataReceived(Wire.Concat(Wire.Create(7), Wire.Payload(7, "x"), Wire.Create(8)));

        var events = Wire.Drain(server);
        Assert.Equal(
            ["ChannelClosed(7, ApplicationError, InvalidOperationException)", "DataTransmit(000400000007)", "DataDiscarded(7, 1)", "ChannelCreated(8, remote=True)"],
            events.Select(Wire.Describe));
        Assert.Same(boom, Assert.IsType<ChannelClosed>(events[0]).Exception);
        Assert.Equal(ConnectionState.Established, server.State);
        Assert.Equal(1, server.OpenChannelCount);
    }

    [Fact]
    public void Factory_returning_null_on_a_remote_create_is_an_ApplicationError()
    {
        var server = new ServerConnection(_ => null!, V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Request());
        Wire.Drain(server);

        server.DataReceived(Wire.Create(7));

        Assert.Equal(
            ["ChannelClosed(7, ApplicationError, InvalidOperationException)", "DataTransmit(000400000007)"],
            Wire.Drain(server).Select(Wire.Describe));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Factory_that_throws_on_a_local_create_leaves_no_channel_open_on_the_peer(byte version)
    {
        bool fail = false;
        var pair = new InMemoryPair(clientFactory: _ => fail ? throw new InvalidOperationException("no") : new RecordingChannel(), version: version);
        pair.Handshake();
        long sentBefore = pair.BytesSentByClient;

        fail = true;
        Assert.Throws<InvalidOperationException>(() => pair.Client.CreateChannel());
        pair.Pump();

        Assert.Equal(ChannelCloseReason.ApplicationError, Assert.IsType<ChannelClosed>(Assert.Single(pair.ClientEvents.Skip(1))).Reason);
        Assert.Equal(0, pair.Client.OpenChannelCount);
        Assert.Equal(0, pair.Server.OpenChannelCount);

        // The factory runs before the create frame is written: the peer hears nothing at all.
        Assert.Equal(sentBefore, pair.BytesSentByClient);
        Assert.Equal([$"HandshakeSuccess({version})"], pair.ServerEvents.Select(Wire.Describe));

        // And the connection goes on.
        fail = false;
        var channel = pair.Client.CreateChannel();
        channel.Write("ok"u8);
        pair.Pump();
        Assert.Equal("ok", Encoding.ASCII.GetString(Assert.IsType<RecordingChannel>(pair.Server.GetChannel(channel.ChannelId)).Received));
    }

    [Fact]
    public void Close_sends_a_close_frame_for_every_open_channel_and_reports_ConnectionClosed()
    {
        var pair = new InMemoryPair();
        pair.Handshake();
        var a = pair.Client.CreateChannel();
        var b = pair.Server.CreateChannel();
        pair.Pump();
        pair.ClientEvents.Clear();
        pair.ServerEvents.Clear();

        pair.Client.Close();

        var events = Wire.Drain(pair.Client);
        var frames = Wire.DecodeAll(Wire.Transmitted(events));
        Assert.Equal(
            new[] { a.ChannelId, b.ChannelId }.Order(),
            frames.Select(f => f.Header.Type == Core.Frames.FrameType.CloseChannel ? f.Header.ChannelId : throw new InvalidOperationException(f.Header.ToString())).Order());
        Assert.Equal(
            new[] { $"ChannelClosed({a.ChannelId}, ConnectionClosed)", $"ChannelClosed({b.ChannelId}, ConnectionClosed)" }.Order(),
            Wire.DescribeNonTransmit(events).Order());
        Assert.Equal(ConnectionState.Closed, pair.Client.State);
        Assert.Equal(0, pair.Client.OpenChannelCount);
        Assert.All(pair.ClientChannels, c => Assert.Equal([ChannelCloseReason.ConnectionClosed], c.CloseReasons));

        // The peer hears about each channel.
        pair.Server.DataReceived(Wire.Transmitted(events));
        Assert.Equal(
            new[] { $"ChannelClosed({a.ChannelId}, RemoteClose)", $"ChannelClosed({b.ChannelId}, RemoteClose)" }.Order(),
            Wire.Drain(pair.Server).Select(Wire.Describe).Order());
        Assert.Equal(0, pair.Server.OpenChannelCount);

        // Idempotent, and input is ignored from now on.
        pair.Client.Close();
        pair.Client.DataReceived(Wire.Create(5));
        Assert.False(pair.Client.HasEvents);
    }

    [Fact]
    public void Close_before_the_handshake_sends_nothing()
    {
        var client = new ClientConnection(() => new RecordingChannel(), V0.Options());
        client.Close();
        Assert.Equal(ConnectionState.Closed, client.State);
        Assert.False(client.HasEvents);

        var server = new ServerConnection(() => new RecordingChannel(), V0.Options());
        server.ConnectionEstablished();
        server.Close();
        Assert.Equal(ConnectionState.Closed, server.State);
        Assert.False(server.HasEvents);
        server.DataReceived(Wire.Request());
        Assert.False(server.HasEvents);
    }

    [Fact]
    public void ConnectionLost_closes_channels_with_ConnectionLost_and_sends_nothing()
    {
        var pair = new InMemoryPair();
        pair.Handshake();
        var a = pair.Client.CreateChannel();
        var b = pair.Client.CreateChannel();
        pair.Pump();

        pair.Client.ConnectionLost();

        var events = Wire.Drain(pair.Client);
        Assert.DoesNotContain(events, e => e is DataTransmit);
        Assert.Equal(
            new[] { $"ChannelClosed({a.ChannelId}, ConnectionLost)", $"ChannelClosed({b.ChannelId}, ConnectionLost)" }.Order(),
            events.Select(Wire.Describe).Order());
        Assert.Equal(ConnectionState.Closed, pair.Client.State);
        Assert.Equal(0, pair.Client.OpenChannelCount);

        pair.Client.ConnectionLost(); // idempotent
        pair.Client.Close();
        pair.Client.DataReceived(Wire.Payload(a.ChannelId, "x"));
        Assert.False(pair.Client.HasEvents);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(1000)]
    public void No_exception_escapes_DataReceived_for_random_input(int maxChunk)
    {
        FuzzAllStates(version: 0, maxChunk, minChunk: 1);
    }

    [Fact]
    public void No_exception_escapes_DataReceived_for_random_input_one_byte_at_a_time()
    {
        FuzzAllStates(version: 0, maxChunk: 1, minChunk: 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(1000)]
    public void No_exception_escapes_a_version_1_connection_for_random_input_and_timers(int maxChunk)
    {
        FuzzAllStates(version: 1, maxChunk, minChunk: 1);
    }

    private static void FuzzAllStates(byte version, int maxChunk, int minChunk)
    {
        var random = new Random(maxChunk + (version * 1000));
        for (int round = 0; round < 300; round++)
        {
            // Mostly-valid prefixes reach every state; the tail is garbage, or frames with random fields.
            var prefix = version == 0
                ? (round % 4) switch
                {
                    0 => Array.Empty<byte>(),
                    1 => Wire.Request(),
                    2 => Wire.Concat(Wire.Request(), Wire.Create(1), Wire.Payload(1, "abc")),
                    _ => Wire.Concat(Wire.Request(), Wire.Create(1), Wire.Hex("000500000001ffff")),
                }
                : (round % 5) switch
                {
                    0 => Array.Empty<byte>(),
                    1 => Wire.Request(version: 1),
                    2 => Wire.Concat(Wire.Request(version: 1), Wire.Settings((1, 1024), (4, 4096))),
                    3 => Wire.Concat(Wire.Request(version: 1), Wire.Settings(), Wire.Open(1, "x"), Wire.Payload(1, "abc"u8, version: 1)),
                    // Odd ids are the client's, even ids the server's: each of these is valid for one side.
                    _ => Wire.Concat(Wire.Request(version: 1), Wire.Settings(), Wire.Open(2), Wire.Open(4), Wire.Hex("010500000002ffff")),
                };
            var tail = new byte[random.Next(0, 200)];
            random.NextBytes(tail);
            if (round % 3 == 0)
            {
                // Biased towards valid ops and versions, so that the fields get exercised.
                int ops = version == 0 ? 7 : 12;
                for (int i = 0; i < tail.Length; i++)
                {
                    tail[i] = (byte)(tail[i] % ops);
                }
            }

            var input = Wire.Concat(prefix, tail);
            foreach (Connection connection in new Connection[]
            {
                new ServerConnection(() => new RecordingChannel { Echo = true }, TestOptions.For(version)),
                new ClientConnection(() => new RecordingChannel(), TestOptions.For(version)),
            })
            {
                var now = TimeSpan.Zero;
                connection.ConnectionEstablished(now);
                if (connection.IsClient)
                {
                    Wire.Drain(connection);
                    input = Wire.Concat(Wire.Reply(version: version), input.AsSpan(prefix.Length > 0 ? 6 : 0).ToArray());
                }

                int at = 0;
                while (at < input.Length)
                {
                    int n = Math.Min(random.Next(minChunk, Math.Max(minChunk, maxChunk) + 1), input.Length - at);
                    if (input.Length - at - n < minChunk)
                    {
                        n = input.Length - at;
                    }

                    if (version > 0)
                    {
                        // Time passes too: keepalive pings, timeouts, round-trip times.
                        now += TimeSpan.FromMilliseconds(random.Next(0, 20_000));
                        if (random.Next(4) == 0)
                        {
                            connection.HandleTimeout(now);
                        }
                    }

                    connection.DataReceived(input.AsSpan(at, n), now);
                    at += n;
                    if (random.Next(10) == 0)
                    {
                        Wire.Drain(connection);
                    }
                }

                Wire.Drain(connection);
                Assert.NotEqual(ConnectionState.Idle, connection.State);
            }
        }
    }
}
