using System.Buffers.Binary;

namespace TcpChan.Core.Yamux;

/// <summary>
/// Encodes yamux frames into caller-provided memory. Each method writes one whole frame (or,
/// for <see cref="WriteDataHeader"/>, a data frame's header) at the start of
/// <c>destination</c> and returns its length; the destination must be large enough, or
/// <see cref="ArgumentException"/> is thrown. Every frame carries version 0.
/// </summary>
internal static class YamuxFrameWriter
{
    /// <summary>Writes any header, as given.</summary>
    public static int WriteHeader(Span<byte> destination, YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        Require(destination, YamuxProtocol.HeaderLength);
        destination[0] = YamuxProtocol.Version;
        destination[1] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4), streamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(8), length);
        return YamuxProtocol.HeaderLength;
    }

    /// <summary>Writes only the header of a data frame whose <paramref name="payloadLength"/> bytes the caller writes next.</summary>
    public static int WriteDataHeader(Span<byte> destination, YamuxFlags flags, uint streamId, int payloadLength)
    {
        if (payloadLength < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, "A payload length is not negative.");
        }

        return WriteHeader(destination, YamuxFrameType.Data, flags, streamId, (uint)payloadLength);
    }

    /// <summary>Writes a data frame: header then <paramref name="payload"/>.</summary>
    public static int WriteData(Span<byte> destination, YamuxFlags flags, uint streamId, ReadOnlySpan<byte> payload)
    {
        Require(destination, YamuxProtocol.HeaderLength + (long)payload.Length);
        WriteDataHeader(destination, flags, streamId, payload.Length);
        payload.CopyTo(destination.Slice(YamuxProtocol.HeaderLength));
        return YamuxProtocol.HeaderLength + payload.Length;
    }

    /// <summary>
    /// Writes a window update: <paramref name="delta"/> more bytes of window for the stream,
    /// with <paramref name="flags"/> (SYN to open, ACK to accept, FIN to half-close, RST to
    /// reset, or none).
    /// </summary>
    public static int WriteWindowUpdate(Span<byte> destination, YamuxFlags flags, uint streamId, uint delta) =>
        WriteHeader(destination, YamuxFrameType.WindowUpdate, flags, streamId, delta);

    /// <summary>Writes a ping on stream 0: a request (SYN) or, when <paramref name="ack"/> is true, the answer (ACK) echoing <paramref name="opaque"/>.</summary>
    public static int WritePing(Span<byte> destination, bool ack, uint opaque) =>
        WriteHeader(destination, YamuxFrameType.Ping, ack ? YamuxFlags.Ack : YamuxFlags.Syn, YamuxProtocol.SessionStreamId, opaque);

    /// <summary>Writes a go-away on stream 0 with <paramref name="code"/>.</summary>
    public static int WriteGoAway(Span<byte> destination, YamuxGoAwayCode code) =>
        WriteHeader(destination, YamuxFrameType.GoAway, YamuxFlags.None, YamuxProtocol.SessionStreamId, (uint)code);

    private static void Require(Span<byte> destination, long length)
    {
        if (destination.Length < length)
        {
            throw new ArgumentException("Destination too small for the frame.", nameof(destination));
        }
    }
}
