using System.Buffers.Binary;

namespace TcpChan.Core.Frames;

/// <summary>
/// The fixed part of a frame: version, op, and the op's fields. For a
/// <see cref="FrameType.ChannelPayload"/> frame the payload follows the header and is
/// <see cref="PayloadLength"/> bytes long; every other version-0 frame is header only.
/// </summary>
/// <remarks>A pure parser: it never allocates and never throws on peer input.</remarks>
public readonly struct FrameHeader
{
    /// <summary>Bytes before the op-specific fields: version u8 | op u8.</summary>
    public const int PrefixLength = 2;

    /// <summary>The longest header of any version-0 frame (the payload frame's).</summary>
    public const int MaxLength = 8;

    /// <summary>The largest payload one version-0 payload frame can carry (u16 length).</summary>
    public const int MaxPayloadLength = ushort.MaxValue;

    /// <summary>Creates a header.</summary>
    public FrameHeader(byte version, FrameType type, uint value, int payloadLength)
    {
        Version = version;
        Type = type;
        Value = value;
        PayloadLength = payloadLength;
    }

    /// <summary>The version byte as sent.</summary>
    public byte Version { get; }

    /// <summary>The op.</summary>
    public FrameType Type { get; }

    /// <summary>The op's u32 field: the magic of a handshake frame, else the channel id.</summary>
    public uint Value { get; }

    /// <summary>The channel id (same as <see cref="Value"/>), for channel frames.</summary>
    public uint ChannelId => Value;

    /// <summary>The magic (same as <see cref="Value"/>), for handshake frames.</summary>
    public uint Magic => Value;

    /// <summary>Bytes of payload after the header (0 for all but payload frames).</summary>
    public int PayloadLength { get; }

    /// <summary>Bytes of this header on the wire.</summary>
    public int Length => LengthOf(Type);

    /// <summary>Whole frame on the wire: header and payload.</summary>
    public int FrameLength => Length + PayloadLength;

    /// <summary>Header length of a frame type, or 0 for a type this protocol does not know.</summary>
    public static int LengthOf(FrameType type) => type switch
    {
        FrameType.HandshakeRequest or FrameType.HandshakeReply
            or FrameType.CreateChannel or FrameType.CloseChannel => PrefixLength + 4,
        FrameType.ChannelPayload => PrefixLength + 6,
        _ => 0,
    };

    /// <summary>
    /// Reads a header from the start of <paramref name="source"/>. Returns
    /// <see cref="FrameReadStatus.NeedMoreData"/> when the span ends first, and
    /// <see cref="FrameReadStatus.UnknownType"/> as soon as the op byte is known to be bad.
    /// The version byte is reported, not judged: the connection decides what it accepts.
    /// </summary>
    public static FrameReadStatus TryRead(ReadOnlySpan<byte> source, out FrameHeader header)
    {
        header = default;
        if (source.Length < PrefixLength)
        {
            return FrameReadStatus.NeedMoreData;
        }

        var type = (FrameType)source[1];
        int length = LengthOf(type);
        if (length == 0)
        {
            return FrameReadStatus.UnknownType;
        }

        if (source.Length < length)
        {
            return FrameReadStatus.NeedMoreData;
        }

        uint value = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(PrefixLength));
        int payloadLength = type == FrameType.ChannelPayload
            ? BinaryPrimitives.ReadUInt16BigEndian(source.Slice(PrefixLength + 4))
            : 0;
        header = new FrameHeader(source[0], type, value, payloadLength);
        return FrameReadStatus.Complete;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Type} v{Version} {(Type is FrameType.HandshakeRequest or FrameType.HandshakeReply ? "magic=0x" + Value.ToString("X8") : "channel=" + Value)}"
        + (Type == FrameType.ChannelPayload ? $" length={PayloadLength}" : string.Empty);
}
