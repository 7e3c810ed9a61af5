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

        if (destination.Length < PayloadHeaderLength + payloadLength)
        {
            throw new ArgumentException("Destination too small for the frame.", nameof(destination));
        }

        destination[0] = version;
        destination[1] = (byte)FrameType.ChannelPayload;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2), channelId);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(6), (ushort)payloadLength);
        return PayloadHeaderLength;
    }

    private static int WriteShort(Span<byte> destination, byte version, FrameType type, uint value)
    {
        if (destination.Length < ShortFrameLength)
        {
            throw new ArgumentException("Destination too small for the frame.", nameof(destination));
        }

        destination[0] = version;
        destination[1] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2), value);
        return ShortFrameLength;
    }
}
