using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using TcpChan.Core;
using TcpChan.Core.Frames;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.V1;

/// <summary>Which side our real connection plays against the raw peer.</summary>
public enum Role
{
    Client,
    Server,
}

/// <summary>How the raw peer's bytes are handed to our connection.</summary>
public enum Feed
{
    /// <summary>Each frame (or group of frames) in one <c>DataReceived</c> call.</summary>
    Whole,

    /// <summary>Every byte in its own <c>DataReceived</c> call.</summary>
    ByteByByte,
}

/// <summary>A frame our connection sent, decoded with <see cref="Frame.TryDecode"/>, payload copied.</summary>
public sealed record SentFrame(FrameType Type, byte Version, uint Value, uint Argument, ulong Opaque, byte[] Body, byte[] Payload)
{
    public uint ChannelId => Value;

    public ErrorCode Code => (ErrorCode)Argument;

    public override string ToString() => Type switch
    {
        FrameType.GoAway => $"GoAway(v{Version}, last={Value}, code={Code})",
        FrameType.ResetChannel => $"Reset(v{Version}, {Value}, {Code})",
        FrameType.WindowUpdate => $"WindowUpdate(v{Version}, {Value}, +{Argument})",
        FrameType.ChannelPayload => $"Payload(v{Version}, {Value}, {Payload.Length}B)",
        FrameType.Ping => $"Ping(v{Version}, flags={Value}, opaque={Opaque})",
        FrameType.Settings => $"Settings(v{Version}, {Value} entries)",
        _ => $"{Type}(v{Version}, {Value})",
    };
}

/// <summary>
/// A hand-written version-1 peer: it drives one real <see cref="Connection"/> (ours, client or
/// server) by feeding it bytes built with <see cref="FrameWriter"/>, and records everything our
/// side reports and sends (<see cref="ConnectionDriver"/>). No link, no clock: every call is immediate.
/// </summary>
public sealed class RawPeer : ConnectionDriver
{
    private uint _lastPeerId;

    /// <param name="role">The role of OUR connection; the raw peer plays the other one.</param>
    /// <param name="feed">Whole frames per call, or one byte per call.</param>
    /// <param name="options">Our connection's options.</param>
    /// <param name="autoConsume">Whether our channel with this id consumes automatically (default: all do).</param>
    public RawPeer(Role role, Feed feed, ConnectionOptions? options = null, Func<uint, bool>? autoConsume = null)
        : base(role, feed, options, autoConsume)
    {
    }

    public const uint Magic = ConnectionOptions.DefaultHandshakeMagic;

    /// <summary>The highest id the peer opened with <see cref="PeerOpens"/> (valid opens only).</summary>
    public uint LastPeerId => _lastPeerId;

    // ---- driving --------------------------------------------------------------------------

    /// <summary>
    /// The version-1 handshake: our client sends its request and the peer answers with its
    /// reply and settings; or the peer sends request and settings to our server. Ends with
    /// our <see cref="HandshakeSuccess"/>(1) and our settings and first ping sent.
    /// </summary>
    public void Handshake(params (SettingId Id, uint Value)[] peerSettings)
    {
        Start();
        Send(Role == Role.Client ? Reply() : Request(), Settings(peerSettings));
        var success = Assert.IsType<HandshakeSuccess>(Assert.Single(Events));
        Assert.Equal(1, success.Version);
        Assert.Equal(ConnectionState.Established, Ours.State);
        Assert.Equal(1, Ours.Version);
    }

    /// <summary>Our <c>ConnectionEstablished</c>: a client sends its request (checked here).</summary>
    public void Start()
    {
        Ours.ConnectionEstablished();
        Drain();
        if (Role == Role.Client)
        {
            var request = Assert.Single(AllFrames());
            Assert.Equal((FrameType.HandshakeRequest, (byte)1, Magic), (request.Type, request.Version, request.Value));
        }
        else
        {
            Assert.Empty(Sent);
        }
    }

    /// <summary>The peer opens its next channel id, or <paramref name="id"/> (a valid open: of the peer's parity, above its last); returns the id.</summary>
    public uint PeerOpens(string? label = null, uint? id = null)
    {
        id ??= _lastPeerId == 0 ? PeerId(1) : _lastPeerId + 2;
        Assert.True(id > _lastPeerId && id == PeerId((int)((id + 1) / 2)), $"PeerOpens({id}) is not a valid open");
        _lastPeerId = id.Value;
        Send(Open(id.Value, label));
        return id.Value;
    }

    public List<SentFrame> FramesSince((int Events, int Bytes) mark) => Decode(BytesSince(mark));

    /// <summary>Every frame our side sent.</summary>
    public List<SentFrame> AllFrames() => FramesSince((0, 0));

    // ---- frames the peer can send -----------------------------------------------------------

    public static byte[] Request(byte version = 1, uint magic = Magic)
    {
        var frame = new byte[FrameWriter.ShortFrameLength];
        FrameWriter.WriteHandshakeRequest(frame, version, magic);
        return frame;
    }

    public static byte[] Reply(byte version = 1, uint magic = Magic)
    {
        var frame = new byte[FrameWriter.ShortFrameLength];
        FrameWriter.WriteHandshakeReply(frame, version, magic);
        return frame;
    }

    public static byte[] Settings(params (SettingId Id, uint Value)[] entries) =>
        RawSettings(1, entries.Select(e => ((byte)e.Id, e.Value)).ToArray());

    public static byte[] RawSettings(byte version, params (byte Id, uint Value)[] entries)
    {
        var pairs = entries.Select(e => new KeyValuePair<byte, uint>(e.Id, e.Value)).ToArray();
        var frame = new byte[FrameWriter.SettingsFrameLength(pairs.Length)];
        FrameWriter.WriteSettings(frame, version, pairs);
        return frame;
    }

    public static byte[] Open(uint id, string? label = null, byte version = 1)
    {
        var labelBytes = label is null ? Array.Empty<byte>() : Encoding.UTF8.GetBytes(label);
        var frame = new byte[FrameWriter.OpenFrameLength(labelBytes.Length)];
        FrameWriter.WriteOpenChannel(frame, version, id, labelBytes);
        return frame;
    }

    /// <summary>An end of data (op 4).</summary>
    public static byte[] End(uint id, byte version = 1)
    {
        var frame = new byte[FrameWriter.ShortFrameLength];
        FrameWriter.WriteCloseChannel(frame, version, id);
        return frame;
    }

    /// <summary>A payload frame of <paramref name="length"/> pattern bytes (seeded by the id and length).</summary>
    public static byte[] Payload(uint id, int length, byte version = 1) => Payload(id, Pattern(length, (int)id), version);

    public static byte[] Payload(uint id, ReadOnlySpan<byte> payload, byte version = 1)
    {
        var frame = new byte[FrameWriter.PayloadHeaderLength + payload.Length];
        FrameWriter.WriteChannelPayload(frame, version, id, payload);
        return frame;
    }

    public static byte[] Window(uint id, uint increment, byte version = 1)
    {
        var frame = new byte[FrameWriter.LongFrameLength];
        FrameWriter.WriteWindowUpdate(frame, version, id, increment);
        return frame;
    }

    public static byte[] Reset(uint id, ErrorCode code, byte version = 1)
    {
        var frame = new byte[FrameWriter.LongFrameLength];
        FrameWriter.WriteResetChannel(frame, version, id, (uint)code);
        return frame;
    }

    public static byte[] Ping(bool ack, ulong opaque, byte version = 1)
    {
        var frame = new byte[FrameWriter.PingFrameLength];
        FrameWriter.WritePing(frame, version, ack, opaque);
        return frame;
    }

    /// <summary>A ping with any flags byte (bit 0: answer; bits 1 to 7 mean nothing).</summary>
    public static byte[] PingWithFlags(byte flags, ulong opaque)
    {
        var frame = Ping(false, opaque);
        frame[2] = flags;
        return frame;
    }

    public static byte[] GoAway(uint lastId, ErrorCode code, byte version = 1)
    {
        var frame = new byte[FrameWriter.LongFrameLength];
        FrameWriter.WriteGoAway(frame, version, lastId, (uint)code);
        return frame;
    }

    /// <summary>Bytes as given: for frames no writer makes (unknown ops, wrong version bytes).</summary>
    public static byte[] Raw(params byte[] bytes) => bytes;

    /// <summary>A frame of another version byte: <paramref name="frame"/> with byte 0 replaced.</summary>
    public static byte[] WithVersion(byte version, byte[] frame)
    {
        var copy = frame.ToArray();
        copy[0] = version;
        return copy;
    }

    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (var part in parts)
        {
            part.CopyTo(all, at);
            at += part.Length;
        }

        return all;
    }

    /// <summary>Decodes whole frames; fails the test on a cut or unknown frame.</summary>
    public static List<SentFrame> Decode(ReadOnlySpan<byte> stream)
    {
        var frames = new List<SentFrame>();
        while (!stream.IsEmpty)
        {
            var status = Frame.TryDecode(stream, out var frame, out int consumed);
            Assert.True(status == FrameReadStatus.Complete, $"Our output does not decode: {status} with {stream.Length} bytes left.");
            var h = frame.Header;
            frames.Add(new SentFrame(h.Type, h.Version, h.Value, h.Argument, h.Opaque, frame.Body.ToArray(), frame.Payload.ToArray()));
            stream = stream.Slice(consumed);
        }

        return frames;
    }

    /// <summary>An event as text, with the fields that matter (not free-text messages).</summary>
    public static string Describe(ConnectionEvent e) => e switch
    {
        HandshakeSuccess s => $"HandshakeSuccess({s.Version})",
        HandshakeFailed => "HandshakeFailed",
        ProtocolError p => $"ProtocolError({p.Code})",
        ChannelCreated c => $"ChannelCreated({c.ChannelId}, remote={c.IsRemote})",
        ChannelClosed c => $"ChannelClosed({c.ChannelId}, {c.Reason}, code={c.Code?.ToString() ?? "none"})",
        DataDiscarded d => $"DataDiscarded({d.ChannelId}, {d.ByteCount.ToString(CultureInfo.InvariantCulture)})",
        PingAcknowledged p => $"PingAcknowledged({p.Opaque})",
        GoAwayReceived g => $"GoAwayReceived({g.LastChannelId}, {g.Code})",
        _ => e.ToString() ?? e.GetType().Name,
    };

    public static List<string> Describe(IEnumerable<ConnectionEvent> events) => events.Select(Describe).ToList();

    public static uint ReadU32(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt32BigEndian(bytes);
}
