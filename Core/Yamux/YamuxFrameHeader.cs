using System.Buffers.Binary;

namespace TcpChan.Core.Yamux;

/// <summary>
/// The 12-byte header every yamux frame starts with: <c>version u8 | type u8 | flags u16 |
/// stream id u32 | length u32</c>, big-endian. Only a <see cref="YamuxFrameType.Data"/>
/// frame has more: <see cref="Length"/> payload bytes, which the connection streams to the
/// stream instead of buffering. For the other types the length field is a value (a window
/// delta, a ping's opaque value, a go-away's code).
/// </summary>
/// <remarks>
/// A pure parser: it never allocates and never throws on peer input. It checks only what the
/// header alone decides (version, type); flags, ids and lengths are the connection's to judge.
/// </remarks>
internal readonly struct YamuxFrameHeader
{
    /// <summary>Creates a header.</summary>
    public YamuxFrameHeader(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length, byte version = YamuxProtocol.Version)
    {
        Version = version;
        Type = type;
        Flags = flags;
        StreamId = streamId;
        Length = length;
    }

    /// <summary>The version byte as sent (always 0 in a header <see cref="TryRead"/> completed).</summary>
    public byte Version { get; }

    /// <summary>What the frame is.</summary>
    public YamuxFrameType Type { get; }

    /// <summary>The flags as sent, undefined bits included.</summary>
    public YamuxFlags Flags { get; }

    /// <summary>The stream the frame is for; 0 for the session (ping, go-away).</summary>
    public uint StreamId { get; }

    /// <summary>The length field as sent; what it means depends on <see cref="Type"/>.</summary>
    public uint Length { get; }

    /// <summary>Bytes of payload after the header: <see cref="Length"/> for a data frame, else 0.</summary>
    public uint PayloadLength => Type == YamuxFrameType.Data ? Length : 0;

    /// <summary>A window update's delta (same as <see cref="Length"/>).</summary>
    public uint Delta => Length;

    /// <summary>A ping's opaque value (same as <see cref="Length"/>).</summary>
    public uint Opaque => Length;

    /// <summary>A go-away's code (same as <see cref="Length"/>; any u32 may arrive).</summary>
    public YamuxGoAwayCode GoAwayCode => (YamuxGoAwayCode)Length;

    /// <summary>Whole frame on the wire: header and payload (up to 12 + 2^32 - 1 bytes).</summary>
    public long FrameLength => YamuxProtocol.HeaderLength + (long)PayloadLength;

    /// <summary>True when every bit of <paramref name="flags"/> is set.</summary>
    public bool Has(YamuxFlags flags) => (Flags & flags) == flags;

    /// <summary>
    /// Reads a header from the start of <paramref name="source"/>. Returns
    /// <see cref="YamuxReadStatus.NeedMoreData"/> when the span ends first, and
    /// <see cref="YamuxReadStatus.BadVersion"/> or <see cref="YamuxReadStatus.UnknownType"/>
    /// as soon as the byte that is bad has arrived (the version is judged first, as Go does).
    /// </summary>
    public static YamuxReadStatus TryRead(ReadOnlySpan<byte> source, out YamuxFrameHeader header)
    {
        header = default;
        if (source.Length < 1)
        {
            return YamuxReadStatus.NeedMoreData;
        }

        if (source[0] != YamuxProtocol.Version)
        {
            return YamuxReadStatus.BadVersion;
        }

        if (source.Length < 2)
        {
            return YamuxReadStatus.NeedMoreData;
        }

        if (source[1] > (byte)YamuxFrameType.GoAway)
        {
            return YamuxReadStatus.UnknownType;
        }

        if (source.Length < YamuxProtocol.HeaderLength)
        {
            return YamuxReadStatus.NeedMoreData;
        }

        header = new YamuxFrameHeader(
            (YamuxFrameType)source[1],
            (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(source.Slice(2)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(8)),
            source[0]);
        return YamuxReadStatus.Complete;
    }

    /// <inheritdoc />
    public override string ToString() => Type switch
    {
        YamuxFrameType.Data => $"Data stream={StreamId} flags={Flags} length={Length}",
        YamuxFrameType.WindowUpdate => $"WindowUpdate stream={StreamId} flags={Flags} delta={Length}",
        YamuxFrameType.Ping => $"Ping stream={StreamId} flags={Flags} opaque={Length}",
        YamuxFrameType.GoAway => $"GoAway stream={StreamId} flags={Flags} code={Length}",
        _ => $"Type{(byte)Type} v{Version} stream={StreamId} flags={Flags} length={Length}",
    };
}
