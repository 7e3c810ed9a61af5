using System.Globalization;
using System.Text;
using TcpChan.Core;
using TcpChan.Core.Frames;

namespace TcpChan.Tests.Support;

/// <summary>Builds frames by hand (version 0 unless said otherwise) and turns events into comparable text.</summary>
public static class Wire
{
    public const uint Magic = ConnectionOptions.DefaultHandshakeMagic;

    public static byte[] Hex(string hex) => Convert.FromHexString(hex);

    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    public static byte[] Request(uint magic = Magic, byte version = 0) => Short(version, FrameType.HandshakeRequest, magic);

    public static byte[] Reply(uint magic = Magic, byte version = 0) => Short(version, FrameType.HandshakeReply, magic);

    public static byte[] Create(uint channelId, byte version = 0) => Short(version, FrameType.CreateChannel, channelId);

    public static byte[] CloseFrame(uint channelId, byte version = 0) => Short(version, FrameType.CloseChannel, channelId);

    public static byte[] Payload(uint channelId, ReadOnlySpan<byte> payload, byte version = 0)
    {
        var frame = new byte[FrameWriter.PayloadHeaderLength + payload.Length];
        FrameWriter.WriteChannelPayload(frame, version, channelId, payload);
        return frame;
    }

    public static byte[] Payload(uint channelId, string ascii) => Payload(channelId, Encoding.ASCII.GetBytes(ascii));

    // ---- version 1 ----

    /// <summary>The settings frame a connection with default options sends: window 256 KiB, frames 65,535, 4,096 channels, session 8 MiB.</summary>
    public const string DefaultSettingsHex = "010804" + "0100040000" + "020000ffff" + "0300001000" + "0400800000";

    /// <summary>A version-1 settings frame with these entries.</summary>
    public static byte[] Settings(params (byte Id, uint Value)[] entries)
    {
        var pairs = entries.Select(e => new KeyValuePair<byte, uint>(e.Id, e.Value)).ToArray();
        var frame = new byte[FrameWriter.SettingsFrameLength(pairs.Length)];
        FrameWriter.WriteSettings(frame, 1, pairs);
        return frame;
    }

    /// <summary>A version-1 open, with a label (empty when null).</summary>
    public static byte[] Open(uint channelId, string? label = null)
    {
        var bytes = label is null ? [] : Encoding.UTF8.GetBytes(label);
        var frame = new byte[FrameWriter.OpenFrameLength(bytes.Length)];
        FrameWriter.WriteOpenChannel(frame, 1, channelId, bytes);
        return frame;
    }

    /// <summary>A version-1 end of data (op 4).</summary>
    public static byte[] EndOfData(uint channelId) => Short(1, FrameType.CloseChannel, channelId);

    /// <summary>A version-1 window update (channel 0: the session).</summary>
    public static byte[] WindowUpdate(uint channelId, uint increment)
    {
        var frame = new byte[FrameWriter.LongFrameLength];
        FrameWriter.WriteWindowUpdate(frame, 1, channelId, increment);
        return frame;
    }

    /// <summary>A version-1 reset.</summary>
    public static byte[] Reset(uint channelId, ErrorCode code)
    {
        var frame = new byte[FrameWriter.LongFrameLength];
        FrameWriter.WriteResetChannel(frame, 1, channelId, (uint)code);
        return frame;
    }

    /// <summary>A version-1 ping (or its answer).</summary>
    public static byte[] Ping(ulong opaque, bool ack = false)
    {
        var frame = new byte[FrameWriter.PingFrameLength];
        FrameWriter.WritePing(frame, 1, ack, opaque);
        return frame;
    }

    /// <summary>A version-1 go-away.</summary>
    public static byte[] GoAway(uint lastChannelId, ErrorCode code = ErrorCode.NoError)
    {
        var frame = new byte[FrameWriter.LongFrameLength];
        FrameWriter.WriteGoAway(frame, 1, lastChannelId, (uint)code);
        return frame;
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

    /// <summary>Bytes of a deterministic pattern: different seeds give different bytes.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Takes every queued event (DataTransmit events are left undisposed so their payload stays readable).</summary>
    public static List<ConnectionEvent> Drain(Connection connection)
    {
        var events = new List<ConnectionEvent>();
        while (connection.NextEvent() is { } e)
        {
            ChannelLife.Route(e);
            events.Add(e);
        }

        return events;
    }

    /// <summary>All bytes of the DataTransmit events, in order.</summary>
    public static byte[] Transmitted(IEnumerable<ConnectionEvent> events)
    {
        var bytes = new List<byte>();
        foreach (var e in events)
        {
            if (e is DataTransmit t)
            {
                bytes.AddRange(t.Payload.ToArray());
            }
        }

        return bytes.ToArray();
    }

    /// <summary>The events other than DataTransmit, described.</summary>
    public static List<string> DescribeNonTransmit(IEnumerable<ConnectionEvent> events) =>
        events.Where(e => e is not DataTransmit).Select(Describe).ToList();

    /// <summary>An event as text: its type and fields (not the free-text messages).</summary>
    public static string Describe(ConnectionEvent e) => e switch
    {
        DataTransmit t => $"DataTransmit({ToHex(t.Payload.Span)})",
        HandshakeSuccess s => $"HandshakeSuccess({s.Version})",
        HandshakeFailed => "HandshakeFailed",
        ProtocolError p => $"ProtocolError({p.Code})",
        ChannelCreated c => $"ChannelCreated({c.ChannelId}, remote={c.IsRemote})",
        ChannelClosed c => $"ChannelClosed({c.ChannelId}, {c.Reason}{(c.Exception is null ? string.Empty : ", " + c.Exception.GetType().Name)})",
        DataDiscarded d => $"DataDiscarded({d.ChannelId}, {d.ByteCount.ToString(CultureInfo.InvariantCulture)})",
        GoAwayReceived g => $"GoAwayReceived({g.LastChannelId}, {g.Code})",
        PingAcknowledged p => $"PingAcknowledged({p.Opaque.ToString(CultureInfo.InvariantCulture)})",
        _ => e.GetType().Name,
    };

    /// <summary>Decodes a byte stream into its frames (header plus payload copy); fails on a partial or unknown frame.</summary>
    public static List<(FrameHeader Header, byte[] Payload)> DecodeAll(ReadOnlySpan<byte> stream)
    {
        var frames = new List<(FrameHeader, byte[])>();
        while (!stream.IsEmpty)
        {
            var status = Frame.TryDecode(stream, out var frame, out int consumed);
            if (status != FrameReadStatus.Complete)
            {
                throw new InvalidOperationException($"Stream does not decode: {status} with {stream.Length} bytes left.");
            }

            frames.Add((frame.Header, frame.Payload.ToArray()));
            stream = stream.Slice(consumed);
        }

        return frames;
    }

    private static byte[] Short(byte version, FrameType type, uint value)
    {
        var frame = new byte[FrameWriter.ShortFrameLength];
        frame[0] = version;
        frame[1] = (byte)type;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(2), value);
        return frame;
    }
}
