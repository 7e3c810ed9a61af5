using System.Buffers.Binary;

namespace TcpChan.Core.Frames;

/// <summary>
/// Encodes frames into caller-provided memory. Each method writes one whole frame at the
/// start of <c>destination</c> and returns its length; the destination must be large enough
/// (see the <c>...Length</c> constants), or <see cref="ArgumentException"/> is thrown.
/// </summary>
public static class FrameWriter
{
    /// <summary>Length of a handshake, create or close frame.</summary>
    public const int ShortFrameLength = FrameHeader.PrefixLength + 4;

    /// <summary>Length of a payload frame's header.</summary>
    public const int PayloadHeaderLength = FrameHeader.PrefixLength + 6;

    /// <summary>Writes a handshake request.</summary>
    public static int WriteHandshakeRequest(Span<byte> destination, byte version, uint magic) =>
        WriteShort(destination, version, FrameType.HandshakeRequest, magic);

    /// <summary>Writes a handshake reply.</summary>
    public static int WriteHandshakeReply(Span<byte> destination, byte version, uint magic) =>
        WriteShort(destination, version, FrameType.HandshakeReply, magic);

    /// <summary>Writes a create-channel frame.</summary>
    public static int WriteCreateChannel(Span<byte> destination, byte version, uint channelId) =>
        WriteShort(destination, version, FrameType.CreateChannel, channelId);

    /// <summary>Writes a close-channel frame.</summary>
    public static int WriteCloseChannel(Span<byte> destination, byte version, uint channelId) =>
        WriteShort(destination, version, FrameType.CloseChannel, channelId);

    /// <summary>Length of a window-update, reset or go-away frame (version 1).</summary>
    public const int LongFrameLength = FrameHeader.PrefixLength + 8;

    /// <summary>Length of a ping frame (version 1).</summary>
    public const int PingFrameLength = FrameHeader.PrefixLength + 9;

    /// <summary>Length of a version-1 open frame with a label of <paramref name="labelLength"/> bytes.</summary>
    public static int OpenFrameLength(int labelLength) => FrameHeader.LabelOffset + labelLength;

    /// <summary>Length of a settings frame with <paramref name="count"/> entries.</summary>
    public static int SettingsFrameLength(int count) => FrameHeader.SettingsOffset + (count * FrameHeader.SettingEntryLength);

    /// <summary>Writes a version-1 open frame with a label (0 to 255 bytes).</summary>
    public static int WriteOpenChannel(Span<byte> destination, byte version, uint channelId, ReadOnlySpan<byte> label)
    {
        if (label.Length > FrameHeader.MaxLabelLength)
        {
            throw new ArgumentOutOfRangeException(nameof(label), label.Length, "A label is at most 255 bytes.");
        }

        int length = OpenFrameLength(label.Length);
        Require(destination, length);
        WritePrefix(destination, version, FrameType.CreateChannel, channelId);
        destination[FrameHeader.PrefixLength + 4] = (byte)label.Length;
        label.CopyTo(destination.Slice(FrameHeader.LabelOffset));
        return length;
    }

    /// <summary>Writes a window update: <paramref name="increment"/> more bytes of credit for a channel, or for the session when <paramref name="channelId"/> is 0.</summary>
    public static int WriteWindowUpdate(Span<byte> destination, byte version, uint channelId, uint increment) =>
        WriteLong(destination, version, FrameType.WindowUpdate, channelId, increment);

    /// <summary>Writes a reset: the channel is aborted (or its open refused) with <paramref name="code"/>.</summary>
    public static int WriteResetChannel(Span<byte> destination, byte version, uint channelId, uint code) =>
        WriteLong(destination, version, FrameType.ResetChannel, channelId, code);

    /// <summary>Writes a go-away: channels the receiver opened above <paramref name="lastChannelId"/> were not processed.</summary>
    public static int WriteGoAway(Span<byte> destination, byte version, uint lastChannelId, uint code) =>
        WriteLong(destination, version, FrameType.GoAway, lastChannelId, code);

    /// <summary>Writes a ping (<paramref name="ack"/> false) or its answer (true) carrying <paramref name="opaque"/>.</summary>
    public static int WritePing(Span<byte> destination, byte version, bool ack, ulong opaque)
    {
        Require(destination, PingFrameLength);
        destination[0] = version;
        destination[1] = (byte)FrameType.Ping;
        destination[2] = ack ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(3), opaque);
        return PingFrameLength;
    }

    /// <summary>Writes a settings frame with the given entries (at most 255).</summary>
    public static int WriteSettings(Span<byte> destination, byte version, ReadOnlySpan<KeyValuePair<byte, uint>> entries)
    {
        if (entries.Length > byte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(entries), entries.Length, "At most 255 settings.");
        }

        int length = SettingsFrameLength(entries.Length);
        Require(destination, length);
        destination[0] = version;
        destination[1] = (byte)FrameType.Settings;
        destination[2] = (byte)entries.Length;
        var cursor = destination.Slice(FrameHeader.SettingsOffset);
        foreach (var entry in entries)
        {
            cursor[0] = entry.Key;
            BinaryPrimitives.WriteUInt32BigEndian(cursor.Slice(1), entry.Value);
            cursor = cursor.Slice(FrameHeader.SettingEntryLength);
        }

        return length;
    }

    /// <summary>Writes a payload frame: header then <paramref name="payload"/> (at most 65,535 bytes).</summary>
    public static int WriteChannelPayload(Span<byte> destination, byte version, uint channelId, ReadOnlySpan<byte> payload)
    {
        WriteChannelPayloadHeader(destination, version, channelId, payload.Length);
        payload.CopyTo(destination.Slice(PayloadHeaderLength));
        return PayloadHeaderLength + payload.Length;
    }

    /// <summary>Writes only the header of a payload frame whose payload the caller writes next.</summary>
    public static int WriteChannelPayloadHeader(Span<byte> destination, byte version, uint channelId, int payloadLength)
    {
        if ((uint)payloadLength > FrameHeader.MaxPayloadLength)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, "A payload frame carries at most 65,535 bytes.");
        }

        Require(destination, PayloadHeaderLength);
        WritePrefix(destination, version, FrameType.ChannelPayload, channelId);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(6), (ushort)payloadLength);
        return PayloadHeaderLength;
    }

    private static int WriteShort(Span<byte> destination, byte version, FrameType type, uint value)
    {
        Require(destination, ShortFrameLength);
        WritePrefix(destination, version, type, value);
        return ShortFrameLength;
    }

    private static int WriteLong(Span<byte> destination, byte version, FrameType type, uint value, uint argument)
    {
        Require(destination, LongFrameLength);
        WritePrefix(destination, version, type, value);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(FrameHeader.PrefixLength + 4), argument);
        return LongFrameLength;
    }

    private static void WritePrefix(Span<byte> destination, byte version, FrameType type, uint value)
    {
        destination[0] = version;
        destination[1] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(FrameHeader.PrefixLength), value);
    }

    private static void Require(Span<byte> destination, int length)
    {
        if (destination.Length < length)
        {
            throw new ArgumentException("Destination too small for the frame.", nameof(destination));
        }
    }
}
