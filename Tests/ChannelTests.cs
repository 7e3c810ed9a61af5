using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TcpChan.Core;
using TcpChan.Core.Frames;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests;

public class ChannelTests
{
    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    private static InMemoryPair Connected(Chunker? chunker = null)
    {
        var pair = new InMemoryPair(chunker: chunker);
        pair.Handshake();
        pair.ClientEvents.Clear();
        pair.ServerEvents.Clear();
        return pair;
    }

    /// <summary>A channel that only counts, so that receiving allocates nothing of its own.</summary>
    private sealed class CountingChannel : Channel
    {
        public long Count { get; private set; }

        protected override void DataReceived(ReadOnlySpan<byte> data) => Count += data.Length;
    }

    [Fact]
    public void Client_creates_a_channel_and_the_server_sees_it()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();

        Assert.Same(channel, Assert.Single(pair.ClientChannels));
        Assert.False(channel.IsRemote);
        Assert.False(channel.IsClosed);
        Assert.Null(channel.CloseReason);
        Assert.Same(pair.Client, channel.Connection);
        Assert.Same(channel, pair.Client.GetChannel(channel.ChannelId));
        Assert.Equal(0, pair.ClientChannels[0].CreatedCount); // its ChannelCreated is not taken yet

        pair.Pump();
        Assert.Equal(1, pair.ClientChannels[0].CreatedCount);

        var remote = Assert.Single(pair.ServerChannels);
        Assert.Equal(channel.ChannelId, remote.ChannelId);
        Assert.True(remote.IsRemote);
        Assert.Same(pair.Server, remote.Connection);
        Assert.Equal(1, remote.CreatedCount);
        Assert.Equal([$"ChannelCreated({channel.ChannelId}, remote=False)"], pair.ClientEvents.Select(Wire.Describe));
        Assert.Equal([$"ChannelCreated({channel.ChannelId}, remote=True)"], pair.ServerEvents.Select(Wire.Describe));
        Assert.Same(remote, Assert.IsType<ChannelCreated>(pair.ServerEvents[0]).Channel);
        Assert.Equal(1, pair.Client.OpenChannelCount);
        Assert.Equal(1, pair.Server.OpenChannelCount);
    }

    [Fact]
    public void Server_creates_a_channel_and_the_client_sees_it()
    {
        var pair = Connected();
        var channel = pair.Server.CreateChannel();
        pair.Pump();

        var remote = Assert.Single(pair.ClientChannels);
        Assert.Equal(channel.ChannelId, remote.ChannelId);
        Assert.True(remote.IsRemote);
        Assert.False(channel.IsRemote);
        Assert.Equal([$"ChannelCreated({channel.ChannelId}, remote=True)"], pair.ClientEvents.Select(Wire.Describe));
    }

    [Fact]
    public void Create_frame_is_the_reference_encoding()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        var transmit = Assert.IsType<DataTransmit>(pair.Client.NextEvent());
        var expected = new byte[6];
        FrameWriter.WriteCreateChannel(expected, 0, channel.ChannelId);
        Assert.Equal(expected, transmit.Payload.ToArray());
    }

    [Fact]
    public void Factory_is_told_the_id_and_who_opened_the_channel()
    {
        var infos = new List<ChannelOpenInfo>();
        var pair = new InMemoryPair(
            clientFactory: info => { infos.Add(info); return new RecordingChannel(); },
            serverFactory: info => { infos.Add(info); return new RecordingChannel(); });
        pair.Handshake();

        var channel = pair.Client.CreateChannel();
        pair.Pump();

        Assert.Equal(2, infos.Count);
        Assert.Equal(channel.ChannelId, infos[0].ChannelId);
        Assert.False(infos[0].IsRemote);
        Assert.Equal(channel.ChannelId, infos[1].ChannelId);
        Assert.True(infos[1].IsRemote);
    }

    [Fact]
    public void Ids_come_from_the_configured_random()
    {
        static uint FirstId(int seed)
        {
            var pair = new InMemoryPair(clientOptions: V0.Options(seed: seed));
            pair.Handshake();
            return pair.Client.CreateChannel().ChannelId;
        }

        Assert.Equal(FirstId(42), FirstId(42));
        Assert.NotEqual(FirstId(42), FirstId(43));
    }

    [Fact]
    public void Data_flows_both_ways()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();
        var remote = pair.ServerChannels.Single();

        channel.Write(Ascii("ping"));
        pair.Pump();
        remote.Write(Ascii("pong"));
        remote.Write(Ascii("!"));
        pair.Pump();

        Assert.Equal("ping", Encoding.ASCII.GetString(remote.Received));
        Assert.Equal("pong!", Encoding.ASCII.GetString(pair.ClientChannels.Single().Received));
        Assert.Empty(pair.ClientEvents.Skip(1));
        Assert.Empty(pair.ServerEvents.Skip(1));
    }

    [Fact]
    public void Echo_channel_sends_back_what_it_gets()
    {
        var pair = new InMemoryPair(serverFactory: _ => new RecordingChannel { Echo = true }, chunker: Chunkers.Fixed(3));
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        var data = Wire.Pattern(1000, 5);
        channel.Write(data);
        pair.Pump();
        Assert.Equal(data, pair.ClientChannels.Single().Received);
    }

    [Fact]
    public void Write_of_300000_bytes_is_split_into_frames_of_at_most_65535_and_arrives_intact()
    {
        var pair = Connected(Chunkers.Random(7, 100_000));
        var channel = pair.Client.CreateChannel();
        pair.Pump();
        var data = Wire.Pattern(300_000, 300);

        channel.Write(data);

        var transmit = Assert.IsType<DataTransmit>(pair.Client.NextEvent());
        Assert.Null(pair.Client.NextEvent());
        var frames = Wire.DecodeAll(transmit.Payload.Span);
        Assert.Equal([65535, 65535, 65535, 65535, 37860], frames.Select(f => f.Payload.Length));
        Assert.All(frames, f =>
        {
            Assert.Equal(FrameType.ChannelPayload, f.Header.Type);
            Assert.Equal(channel.ChannelId, f.Header.ChannelId);
            Assert.Equal(0, f.Header.Version);
        });
        Assert.Equal(data, frames.SelectMany(f => f.Payload).ToArray());

        pair.Server.DataReceived(transmit.Payload.Span);
        transmit.Dispose();
        Assert.Equal(data, pair.ServerChannels.Single().Received);
    }

    [Fact]
    public void Payload_of_exactly_65535_and_65536_bytes()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();

        channel.Write(new byte[65535]);
        var one = Wire.DecodeAll(Assert.IsType<DataTransmit>(pair.Client.NextEvent()).Payload.Span);
        Assert.Equal([65535], one.Select(f => f.Payload.Length));

        channel.Write(new byte[65536]);
        var two = Wire.DecodeAll(Assert.IsType<DataTransmit>(pair.Client.NextEvent()).Payload.Span);
        Assert.Equal([65535, 1], two.Select(f => f.Payload.Length));
    }

    [Fact]
    public void Empty_write_sends_nothing()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();

        channel.Write(ReadOnlySpan<byte>.Empty);
        channel.Write(Array.Empty<byte>());

        Assert.False(pair.Client.HasEvents);
        Assert.Null(pair.Client.NextEvent());
    }

    [Fact]
    public void Payload_reaches_the_channel_as_a_slice_of_the_input_without_copying()
    {
        RecordingChannel? channel = null;
        var server = new ServerConnection(() => channel = new RecordingChannel(), V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Concat(Wire.Request(), Wire.Create(7)));
        Wire.Drain(server);
        var seven = channel;
        Assert.NotNull(seven);

        // Another frame first, so that the payload starts inside the input, not at its start.
        var input = Wire.Concat(Wire.Create(8), Wire.Payload(7, Wire.Pattern(1000, 1)));
        int payloadStart = 6 + 8;
        var calls = new List<(bool Overlaps, int Offset, bool SameAddress, int Length)>();
        seven.OnData = span =>
        {
            bool overlaps = ((ReadOnlySpan<byte>)input).Overlaps(span, out int offset);
            bool same = Unsafe.AreSame(ref MemoryMarshal.GetReference(span), ref input[payloadStart]);
            calls.Add((overlaps, offset, same, span.Length));
        };

        server.DataReceived(input);

        var call = Assert.Single(calls);
        Assert.True(call.Overlaps);
        Assert.Equal(payloadStart, call.Offset);
        Assert.True(call.SameAddress);
        Assert.Equal(1000, call.Length);
        Assert.Equal(input.AsSpan(payloadStart).ToArray(), seven.Received);
        Assert.NotSame(seven, channel);
    }

    [Fact]
    public void Payload_split_across_calls_arrives_as_slices_of_each_call()
    {
        RecordingChannel? channel = null;
        var server = new ServerConnection(() => channel = new RecordingChannel(), V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Concat(Wire.Request(), Wire.Create(7)));
        Assert.NotNull(channel);

        var frame = Wire.Payload(7, Wire.Pattern(100, 2));
        var first = frame.AsSpan(0, 50).ToArray();
        var second = frame.AsSpan(50).ToArray();
        var offsets = new List<int>();
        byte[] current = first;
        channel.OnData = span =>
        {
            Assert.True(((ReadOnlySpan<byte>)current).Overlaps(span, out int offset));
            offsets.Add(offset);
        };

        server.DataReceived(first);
        current = second;
        server.DataReceived(second);

        Assert.Equal([8, 0], offsets);
        Assert.Equal(frame.AsSpan(8).ToArray(), channel.Received);
    }

    [Fact]
    public void Several_writes_between_two_takes_leave_in_one_DataTransmit()
    {
        var pair = Connected();
        var a = pair.Client.CreateChannel();
        var b = pair.Client.CreateChannel();
        pair.Pump();

        a.Write(Ascii("one"));
        b.Write(Ascii("two"));
        a.Write(Ascii("three"));
        pair.Client.CloseChannel(b.ChannelId);

        var events = Wire.Drain(pair.Client);
        var transmit = Assert.IsType<DataTransmit>(Assert.Single(events, e => e is DataTransmit));
        Assert.Same(transmit, events[0]);
        var frames = Wire.DecodeAll(transmit.Payload.Span);
        Assert.Equal(
            [$"ChannelPayload {a.ChannelId} one", $"ChannelPayload {b.ChannelId} two", $"ChannelPayload {a.ChannelId} three", $"CloseChannel {b.ChannelId} "],
            frames.Select(f => $"{f.Header.Type} {f.Header.ChannelId} {Encoding.ASCII.GetString(f.Payload)}"));
        Assert.Equal([$"ChannelClosed({b.ChannelId}, LocalClose)"], Wire.DescribeNonTransmit(events));
    }

    [Fact]
    public void Output_after_a_take_goes_into_a_new_DataTransmit()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();

        channel.Write(Ascii("a"));
        var first = Assert.IsType<DataTransmit>(pair.Client.NextEvent());
        channel.Write(Ascii("b"));
        var second = Assert.IsType<DataTransmit>(pair.Client.NextEvent());

        // The first was not disposed, so it is not reused and keeps its bytes.
        Assert.NotSame(first, second);
        Assert.Equal("a", Encoding.ASCII.GetString(Wire.DecodeAll(first.Payload.Span).Single().Payload));
        Assert.Equal("b", Encoding.ASCII.GetString(Wire.DecodeAll(second.Payload.Span).Single().Payload));
    }

    [Fact]
    public void DataTransmit_is_reused_after_Dispose_without_allocating()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();
        var data = Wire.Pattern(100, 3);

        channel.Write(data);
        var first = Assert.IsType<DataTransmit>(pair.Client.NextEvent());
        first.Dispose();
        first.Dispose(); // idempotent

        // Warm up (JIT, queue growth), then measure.
        int notSame = 0;
        for (int i = 0; i < 100; i++)
        {
            notSame += WriteTakeDispose(pair.Client, channel, data, first);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            notSame += WriteTakeDispose(pair.Client, channel, data, first);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, notSame);
        Assert.Equal(0, allocated);

        // The reused event carries only the newest frames.
        channel.Write(data);
        var again = Assert.IsType<DataTransmit>(pair.Client.NextEvent());
        Assert.Same(first, again);
        Assert.Equal(8 + data.Length, again.Payload.Length);
    }

    private static int WriteTakeDispose(Connection connection, Channel channel, byte[] data, DataTransmit expected)
    {
        channel.Write(data);
        var e = connection.NextEvent();
        int notSame = ReferenceEquals(e, expected) ? 0 : 1;
        ((DataTransmit)e!).Dispose();
        return notSame;
    }

    [Fact]
    public void Receiving_payload_allocates_nothing()
    {
        var channel = new CountingChannel();
        var server = new ServerConnection(() => channel, V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Concat(Wire.Request(), Wire.Create(7)));
        Wire.Drain(server);
        var frames = Wire.Concat(Wire.Payload(7, Wire.Pattern(1000, 4)), Wire.Payload(7, "x"));

        for (int i = 0; i < 100; i++)
        {
            server.DataReceived(frames);
            server.DataReceived(frames.AsSpan(0, 5));
            server.DataReceived(frames.AsSpan(5));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            server.DataReceived(frames);
            server.DataReceived(frames.AsSpan(0, 5));
            server.DataReceived(frames.AsSpan(5));
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(2200 * 1001, channel.Count);
        Assert.False(server.HasEvents);
    }

    [Fact]
    public void Local_close_and_remote_close_events()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();
        var remote = pair.ServerChannels.Single();
        pair.ClientEvents.Clear();
        pair.ServerEvents.Clear();

        channel.Close();

        Assert.True(channel.IsClosed);
        Assert.Equal(ChannelCloseReason.LocalClose, channel.CloseReason);
        Assert.Null(pair.Client.GetChannel(channel.ChannelId));
        pair.Pump();
        Assert.Equal([$"ChannelClosed({channel.ChannelId}, LocalClose)"], pair.ClientEvents.Select(Wire.Describe));
        Assert.Equal([$"ChannelClosed({channel.ChannelId}, RemoteClose)"], pair.ServerEvents.Select(Wire.Describe));
        Assert.Null(Assert.IsType<ChannelClosed>(pair.ServerEvents[0]).Exception);
        Assert.Equal([ChannelCloseReason.LocalClose], pair.ClientChannels.Single().CloseReasons);
        Assert.Equal([ChannelCloseReason.RemoteClose], remote.CloseReasons);
        Assert.Equal(ChannelCloseReason.RemoteClose, remote.CloseReason);
        Assert.Equal(0, pair.Client.OpenChannelCount);
        Assert.Equal(0, pair.Server.OpenChannelCount);
    }

    [Fact]
    public void Both_sides_closing_at_once_is_quiet()
    {
        var pair = Connected();
        var channel = pair.Client.CreateChannel();
        pair.Pump();
        var remote = pair.ServerChannels.Single();

        channel.Close();
        remote.Close();
        pair.Pump();

        Assert.Equal($"ChannelClosed({channel.ChannelId}, LocalClose)", Wire.Describe(Assert.Single(pair.ClientEvents.Skip(1))));
        Assert.Equal($"ChannelClosed({channel.ChannelId}, LocalClose)", Wire.Describe(Assert.Single(pair.ServerEvents.Skip(1))));
        Assert.Equal(ConnectionState.Established, pair.Client.State);
        Assert.Equal(ConnectionState.Established, pair.Server.State);
    }

    [Fact]
    public void OpenChannelCount_returns_to_zero()
    {
        var pair = Connected(Chunkers.Random(3, 10));
        var opened = new List<Channel>();
        for (int i = 0; i < 10; i++)
        {
            opened.Add(i % 2 == 0 ? pair.Client.CreateChannel() : pair.Server.CreateChannel());
        }

        pair.Pump();
        Assert.Equal(10, pair.Client.OpenChannelCount);
        Assert.Equal(10, pair.Server.OpenChannelCount);

        for (int i = 0; i < opened.Count; i++)
        {
            // Close half from the side that opened it, half from the other side.
            var channel = i % 3 == 0 ? opened[i] : pair.PeerOf(opened[i].Connection).GetChannel(opened[i].ChannelId)!;
            channel.Close();
            pair.Pump();
            Assert.Equal(9 - i, pair.Client.OpenChannelCount);
            Assert.Equal(9 - i, pair.Server.OpenChannelCount);
        }

        Assert.All(pair.ClientChannels.Concat(pair.ServerChannels), c =>
        {
            Assert.Equal(1, c.CreatedCount);
            Assert.Equal(1, c.ClosedCount);
        });
    }

    [Fact]
    public void Channel_can_write_from_OnCreated()
    {
        var pair = new InMemoryPair(serverFactory: _ => new RecordingChannel { OnCreatedAction = c => c.Write(Ascii("welcome")) });
        pair.Handshake();
        pair.Client.CreateChannel();
        pair.Pump();
        Assert.Equal("welcome", Encoding.ASCII.GetString(pair.ClientChannels.Single().Received));
    }

    [Fact]
    public void Channel_closed_from_its_own_OnCreated_reports_created_before_closed()
    {
        var pair = new InMemoryPair(serverFactory: _ => new RecordingChannel { OnCreatedAction = c => c.Close() });
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        pair.Pump();

        Assert.Equal(
            ["HandshakeSuccess(0)", $"ChannelCreated({channel.ChannelId}, remote=True)", $"ChannelClosed({channel.ChannelId}, LocalClose)"],
            pair.ServerEvents.Select(Wire.Describe));
    }

    [Fact]
    public void Channel_closed_from_its_own_DataReceived_drops_the_rest_of_a_split_frame()
    {
        RecordingChannel? channel = null;
        var server = new ServerConnection(() => channel = new RecordingChannel(), V0.Options());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Concat(Wire.Request(), Wire.Create(7)));
        Wire.Drain(server);
        channel!.OnData = _ => channel.Close();

        var frame = Wire.Payload(7, Wire.Pattern(100, 1));
        server.DataReceived(frame.AsSpan(0, 30));
        server.DataReceived(frame.AsSpan(30));

        Assert.Equal(["DataTransmit(000400000007)", "ChannelClosed(7, LocalClose)", "DataDiscarded(7, 78)"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal(22, channel.ReceivedLength);
    }

    [Fact]
    public void Pair_one_byte_at_a_time_moves_data_intact()
    {
        var pair = Connected(Chunkers.OneByte);
        var channel = pair.Server.CreateChannel();
        var data = Wire.Pattern(5000, 11);
        channel.Write(data);
        pair.Pump();
        Assert.Equal(data, pair.ClientChannels.Single().Received);
        Assert.Equal(pair.BytesSentByServer, pair.DeliveryCount - 6); // the client's 6-byte request was delivered in 6 calls too
    }

    // ---- version-1 twins of the behaviour both versions share --------------------------------

    [Fact]
    public void Version_1_factory_is_told_the_id_who_opened_the_channel_and_its_label()
    {
        var infos = new List<ChannelOpenInfo>();
        var pair = new InMemoryPair(
            clientFactory: info => { infos.Add(info); return new RecordingChannel(); },
            serverFactory: info => { infos.Add(info); return new RecordingChannel(); },
            version: 1);
        pair.Handshake();

        var channel = pair.Client.CreateChannel("greeting");
        pair.Pump();

        Assert.Equal(2, infos.Count);
        Assert.Equal([channel.ChannelId, channel.ChannelId], infos.Select(i => i.ChannelId));
        Assert.Equal([false, true], infos.Select(i => i.IsRemote));
        Assert.Equal(["greeting", "greeting"], infos.Select(i => i.Label));
        Assert.Equal(1u, channel.ChannelId);
    }

    [Fact]
    public void Version_1_echo_channel_sends_back_what_it_gets()
    {
        var pair = new InMemoryPair(serverFactory: _ => new RecordingChannel { Echo = true }, chunker: Chunkers.Fixed(3), version: 1);
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        var data = Wire.Pattern(1000, 5);
        channel.Write(data);
        pair.Pump();
        Assert.Equal(data, pair.ClientChannels.Single().Received);
    }

    [Fact]
    public void Version_1_pair_one_byte_at_a_time_moves_data_intact_both_ways()
    {
        var pair = new InMemoryPair(chunker: Chunkers.OneByte, version: 1);
        pair.Handshake();
        var channel = pair.Server.CreateChannel();
        var data = Wire.Pattern(5000, 11);
        channel.Write(data);
        pair.Pump();
        var remote = pair.ClientChannels.Single();
        Assert.Equal(data, remote.Received);

        remote.Write(data.AsSpan(0, 100));
        pair.Pump();
        Assert.Equal(data.AsSpan(0, 100).ToArray(), pair.ServerChannels.Single().Received);
    }

    [Fact]
    public void Version_1_channel_aborted_from_its_own_OnCreated_reports_created_before_closed()
    {
        var pair = new InMemoryPair(serverFactory: _ => new RecordingChannel { OnCreatedAction = c => c.Abort(ErrorCode.ApplicationBase + 1) }, version: 1);
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        pair.Pump();

        Assert.Equal(
            ["HandshakeSuccess(1)", $"ChannelCreated({channel.ChannelId}, remote=True)", $"ChannelClosed({channel.ChannelId}, LocalReset)"],
            pair.ServerEvents.Select(Wire.Describe));
        Assert.Equal(ChannelCloseReason.RemoteReset, channel.CloseReason);
        Assert.Equal(ErrorCode.ApplicationBase + 1, channel.CloseCode);
    }

    [Fact]
    public void Version_1_channel_closed_from_its_own_OnCreated_ends_its_side_and_completes_when_the_peer_ends()
    {
        var pair = new InMemoryPair(serverFactory: _ => new RecordingChannel { OnCreatedAction = c => c.Close() }, version: 1);
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        pair.Pump();

        Assert.Equal(["HandshakeSuccess(1)", $"ChannelCreated({channel.ChannelId}, remote=True)"], pair.ServerEvents.Select(Wire.Describe));
        Assert.True(channel.IsEndOfData);

        // Data to a channel that closed its reading side is dropped, and said so.
        channel.Write("late"u8);
        channel.CompleteWrites();
        pair.Pump();
        Assert.Equal(
            ["HandshakeSuccess(1)", $"ChannelCreated({channel.ChannelId}, remote=True)", $"DataDiscarded({channel.ChannelId}, 4)", $"ChannelClosed({channel.ChannelId}, Completed)"],
            pair.ServerEvents.Select(Wire.Describe));
        Assert.Equal(ChannelCloseReason.Completed, channel.CloseReason);
        Assert.Equal(0, pair.Client.OpenChannelCount);
        Assert.Equal(0, pair.Server.OpenChannelCount);
    }

    /// <summary>Holds what it receives until the test consumes it, like a reader with its own buffer.</summary>
    private sealed class ManualChannel() : Channel(autoConsume: false)
    {
        public int Held { get; private set; }

        public void ConsumeAll()
        {
            Consume(Held);
            Held = 0;
        }

        protected override void DataReceived(ReadOnlySpan<byte> data) => Held += data.Length;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void Manual_consume_channel_works_on_both_versions(byte version)
    {
        var pair = new InMemoryPair(serverFactory: _ => new ManualChannel(), version: version);
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        channel.Write(new byte[1000]);
        pair.Pump();
        var remote = Assert.IsType<ManualChannel>(pair.Server.GetChannel(channel.ChannelId));
        Assert.Equal(1000, remote.Held);

        remote.ConsumeAll();
        pair.Pump();
        Assert.Equal(0, remote.Held);
        if (version > 0)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => remote.Consume(1));
        }
        else
        {
            remote.Consume(1); // version 0 has no credit: consuming is a no-op (PROTOCOL.md, local misuse)
        }
    }

    /// <summary>Version 1: ends its side as soon as the peer ended its own, like an echo.</summary>
    private sealed class EndsWhenPeerEnds : RecordingChannel
    {
        protected override void OnEndOfData() => CompleteWrites();
    }

    [Fact]
    public void Version_1_channel_that_ends_its_side_from_OnEndOfData_reports_end_of_data_before_closed()
    {
        var pair = new InMemoryPair(serverFactory: _ => new EndsWhenPeerEnds(), version: 1);
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        channel.CompleteWrites();
        pair.Pump();

        Assert.Equal(ChannelCloseReason.Completed, channel.CloseReason);
        Assert.Equal(
            ["HandshakeSuccess(1)", $"ChannelCreated({channel.ChannelId}, remote=True)", $"ChannelClosed({channel.ChannelId}, Completed)"],
            pair.ServerEvents.Select(Wire.Describe));
    }

    /// <summary>Consumes each chunk as soon as it has handled it, inside DataReceived.</summary>
    private sealed class ConsumesInCallback() : Channel(autoConsume: false)
    {
        public long Received { get; private set; }

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            Received += data.Length;
            Consume(data.Length);
        }
    }

    [Fact]
    public void Version_1_manual_consume_channel_may_consume_inside_DataReceived()
    {
        var pair = new InMemoryPair(serverFactory: _ => new ConsumesInCallback(), version: 1);
        pair.Handshake();
        var channel = pair.Client.CreateChannel();
        channel.Write(new byte[1_000_000]); // four windows: only consumed bytes earn credit back
        pair.Pump();

        Assert.False(channel.IsClosed);
        Assert.Equal(1_000_000, Assert.IsType<ConsumesInCallback>(pair.Server.GetChannel(channel.ChannelId)).Received);
        Assert.Equal(0, channel.QueuedBytes);
    }
}
