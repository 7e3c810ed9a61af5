using TcpChan.Core;
using TcpChan.Core.Yamux;
using TcpChan.Tests.Support;
using TcpChan.Tests.V1;
using Xunit;

namespace TcpChan.Tests.Yamux;

/// <summary>A frame our connection sent, decoded with <see cref="YamuxFrameHeader.TryRead"/>, payload copied.</summary>
internal sealed record YamuxSentFrame(YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length, byte[] Payload, byte[] Bytes)
{
    public override string ToString() => Type switch
    {
        YamuxFrameType.Data => $"Data({StreamId}, {Flags}, {Length}B)",
        YamuxFrameType.WindowUpdate => $"Window({StreamId}, {Flags}, +{Length})",
        YamuxFrameType.Ping => $"Ping({Flags}, {Length})",
        _ => $"GoAway({Length})",
    };
}

/// <summary>
/// A hand-written yamux peer in memory: it drives one real yamux <see cref="Connection"/> (ours,
/// client or server) with frames built by <see cref="YamuxFrameWriter"/>, whole or a byte per
/// call, and records what our side reports and sends (<see cref="ConnectionDriver"/>).
/// </summary>
internal sealed class YamuxPeer : ConnectionDriver
{
    /// <param name="role">The role of OUR connection; the peer plays the other one.</param>
    /// <param name="feed">Whole frames per call, or one byte per call.</param>
    /// <param name="options">Our options (yamux is set here).</param>
    /// <param name="autoConsume">Whether our channel with this id consumes automatically (default: all do).</param>
    public YamuxPeer(Role role, Feed feed = Feed.Whole, ConnectionOptions? options = null, Func<uint, bool>? autoConsume = null)
        : base(role, feed, Yamux(options), autoConsume)
    {
    }

    /// <summary>A peer whose connection of ours is established (<see cref="Start"/>), and which opened <paramref name="peerOpens"/>.</summary>
    public static YamuxPeer Started(Role role, Feed feed = Feed.Whole, ConnectionOptions? options = null, Func<uint, bool>? autoConsume = null, params uint[] peerOpens)
    {
        var peer = new YamuxPeer(role, feed, options, autoConsume);
        peer.Start();
        foreach (uint id in peerOpens)
        {
            peer.PeerOpens(id);
        }

        return peer;
    }

    /// <summary>Our <c>ConnectionEstablished</c>: established at once, with our first round-trip ping sent (checked here).</summary>
    public void Start(TimeSpan? now = null)
    {
        Ours.ConnectionEstablished(now ?? TimeSpan.Zero);
        Drain();
        Assert.Equal(["HandshakeSuccess(Yamux, 0)"], Describe(Events));
        var ping = Assert.Single(AllFrames());
        Assert.Equal((YamuxFrameType.Ping, YamuxFlags.Syn, 0u), (ping.Type, ping.Flags, ping.StreamId));
    }

    /// <summary>The peer opens stream <paramref name="id"/> (SYN on a window update, as Go does) and our side's ACK is checked.</summary>
    public uint PeerOpens(uint id)
    {
        var mark = Mark();
        Send(Window(YamuxFlags.Syn, id, 0));
        Assert.Contains($"ChannelCreated({id}, remote=True)", Describe(EventsSince(mark)));
        var ack = Assert.Single(FramesSince(mark));
        Assert.Equal((YamuxFrameType.WindowUpdate, YamuxFlags.Ack, id, 0u), (ack.Type, ack.Flags, ack.StreamId, ack.Length));
        return id;
    }

    public List<YamuxSentFrame> FramesSince((int Events, int Bytes) mark) => Decode(BytesSince(mark));

    /// <summary>Every frame our side sent.</summary>
    public List<YamuxSentFrame> AllFrames() => FramesSince((0, 0));

    private static ConnectionOptions Yamux(ConnectionOptions? options)
    {
        options ??= new ConnectionOptions();
        options.Protocol = WireProtocol.Yamux;
        return options;
    }

    // ---- frames the peer can send -----------------------------------------------------------

    public static byte[] Header(YamuxFrameType type, YamuxFlags flags, uint id, uint length)
    {
        var frame = new byte[YamuxProtocol.HeaderLength];
        YamuxFrameWriter.WriteHeader(frame, type, flags, id, length);
        return frame;
    }

    public static byte[] Window(YamuxFlags flags, uint id, uint delta) => Header(YamuxFrameType.WindowUpdate, flags, id, delta);

    public static byte[] Data(YamuxFlags flags, uint id, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[YamuxProtocol.HeaderLength + payload.Length];
        YamuxFrameWriter.WriteData(frame, flags, id, payload);
        return frame;
    }

    /// <summary>A data frame of <paramref name="length"/> pattern bytes (seeded by the id and length).</summary>
    public static byte[] Data(uint id, int length, YamuxFlags flags = YamuxFlags.None) => Data(flags, id, Wire.Pattern(length, (int)id + length));

    public static byte[] Ping(YamuxFlags flags, uint opaque, uint id = 0) => Header(YamuxFrameType.Ping, flags, id, opaque);

    public static byte[] GoAway(uint code) => Header(YamuxFrameType.GoAway, YamuxFlags.None, 0, code);

    /// <summary>Decodes whole frames; fails the test on a cut or bad frame.</summary>
    public static List<YamuxSentFrame> Decode(ReadOnlySpan<byte> stream)
    {
        var frames = new List<YamuxSentFrame>();
        while (!stream.IsEmpty)
        {
            var status = YamuxFrameHeader.TryRead(stream, out var h);
            Assert.True(status == YamuxReadStatus.Complete && stream.Length >= h.FrameLength, $"Our output does not decode: {status} with {stream.Length} bytes left.");
            int length = (int)h.FrameLength;
            frames.Add(new YamuxSentFrame(h.Type, h.Flags, h.StreamId, h.Length, stream.Slice(YamuxProtocol.HeaderLength, length - YamuxProtocol.HeaderLength).ToArray(), stream.Slice(0, length).ToArray()));
            stream = stream.Slice(length);
        }

        return frames;
    }

    /// <summary>An event as text, with the fields that matter (as <see cref="RawPeer.Describe(ConnectionEvent)"/>, with the protocol).</summary>
    public static string Describe(ConnectionEvent e) =>
        e is HandshakeSuccess s ? $"HandshakeSuccess({s.Protocol}, {s.Version})" : RawPeer.Describe(e);

    public static List<string> Describe(IEnumerable<ConnectionEvent> events) => events.Select(Describe).ToList();
}
