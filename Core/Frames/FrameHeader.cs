using System.Buffers.Binary;

namespace TcpChan.Core.Frames;

/// <summary>
/// Everything of a frame except a payload frame's payload: version, op, the op's fixed
/// fields, and for the frames that have one, a short inline body (an open's label, the
/// settings entries). <see cref="Length"/> counts all of that. A
/// <see cref="FrameType.ChannelPayload"/> frame is followed by <see cref="PayloadLength"/>
/// payload bytes, which the connection streams to the channel instead of buffering.
/// </summary>
/// <remarks>
/// A pure parser: it never allocates and never throws on peer input. The version byte
/// chooses the table of ops: 0 is the reference's, anything else version 1's. Whether that
/// version is allowed is the connection's decision.
/// </remarks>
public readonly struct FrameHeader
{
    /// <summary>Bytes before the op-specific fields: version u8 | op u8.</summary>
    public const int PrefixLength = 2;

    /// <summary>The longest header of any frame: a settings frame with 255 entries.</summary>
    public const int MaxLength = PrefixLength + 1 + (255 * SettingEntryLength);

    /// <summary>Bytes of one settings entry: id u8 | value u32.</summary>
    public const int SettingEntryLength = 5;

    /// <summary>The largest payload one payload frame can carry (u16 length).</summary>
    public const int MaxPayloadLength = ushort.MaxValue;

    /// <summary>The longest label an open can carry.</summary>
    public const int MaxLabelLength = byte.MaxValue;

    /// <summary>Creates a header.</summary>
    public FrameHeader(byte version, FrameType type, int length, uint value, uint argument = 0, ulong opaque = 0, int payloadLength = 0)
    {
        Version = version;
        Type = type;
        Length = length;
        Value = value;
        Argument = argument;
        Opaque = opaque;
        PayloadLength = payloadLength;
    }

    /// <summary>The version byte as sent.</summary>
    public byte Version { get; }

    /// <summary>The op.</summary>
    public FrameType Type { get; }

    /// <summary>Bytes of this header on the wire, inline body included, payload excluded.</summary>
    public int Length { get; }

    /// <summary>
    /// The first u32 field: the magic of a handshake frame, the last channel id of a go-away,
    /// the flags of a ping, the entry count of settings, else the channel id.
    /// </summary>
    public uint Value { get; }

    /// <summary>The channel id (same as <see cref="Value"/>), for channel frames.</summary>
    public uint ChannelId => Value;

    /// <summary>The magic (same as <see cref="Value"/>), for handshake frames.</summary>
    public uint Magic => Value;

    /// <summary>The second u32 field: a window update's increment, a reset's or go-away's code.</summary>
    public uint Argument { get; }

    /// <summary>A ping's opaque value.</summary>
    public ulong Opaque { get; }

    /// <summary>Bytes of payload after the header (payload frames only).</summary>
    public int PayloadLength { get; }

    /// <summary>Whole frame on the wire: header and payload.</summary>
    public int FrameLength => Length + PayloadLength;

    /// <summary>Where an open's label starts within the header.</summary>
    public const int LabelOffset = PrefixLength + 5;

    /// <summary>Where the settings entries start within the header.</summary>
    public const int SettingsOffset = PrefixLength + 1;

    /// <summary>
    /// Reads a header from the start of <paramref name="source"/>. Returns
    /// <see cref="FrameReadStatus.NeedMoreData"/> when the span ends first, and
    /// <see cref="FrameReadStatus.UnknownType"/> as soon as the op byte is known to be bad.
    /// </summary>
    public static FrameReadStatus TryRead(ReadOnlySpan<byte> source, out FrameHeader header)
    {
        header = default;
        if (source.Length < PrefixLength)
        {
            return FrameReadStatus.NeedMoreData;
        }

        byte version = source[0];
        var type = (FrameType)source[1];
        int fixedLength = FixedLengthOf(version, type);
        if (fixedLength == 0)
        {
            return FrameReadStatus.UnknownType;
        }

        if (source.Length < fixedLength)
        {
            return FrameReadStatus.NeedMoreData;
        }

        var fields = source.Slice(PrefixLength);
        int length = fixedLength;
        switch (type)
        {
            case FrameType.ChannelPayload:
                header = new FrameHeader(version, type, length, ReadU32(fields), payloadLength: BinaryPrimitives.ReadUInt16BigEndian(fields.Slice(4)));
                return FrameReadStatus.Complete;
            case FrameType.CreateChannel when version != 0:
                length += fields[4];
                break;
            case FrameType.Settings:
                length += fields[0] * SettingEntryLength;
                if (source.Length < length)
                {
                    return FrameReadStatus.NeedMoreData;
                }

                header = new FrameHeader(version, type, length, fields[0]);
                return FrameReadStatus.Complete;
            case FrameType.Ping:
                header = new FrameHeader(version, type, length, fields[0], opaque: BinaryPrimitives.ReadUInt64BigEndian(fields.Slice(1)));
                return FrameReadStatus.Complete;
        }

        if (source.Length < length)
        {
            return FrameReadStatus.NeedMoreData;
        }

        uint argument = fixedLength >= PrefixLength + 8 && type != FrameType.CreateChannel ? ReadU32(fields.Slice(4)) : 0;
        header = new FrameHeader(version, type, length, ReadU32(fields), argument);
        return FrameReadStatus.Complete;
    }

    /// <summary>
    /// Bytes of the fixed part of a frame type in a version (without an inline body), or 0
    /// for a type that version does not have.
    /// </summary>
    public static int FixedLengthOf(byte version, FrameType type) => (version, type) switch
    {
        (_, FrameType.HandshakeRequest or FrameType.HandshakeReply or FrameType.CloseChannel) => PrefixLength + 4,
        (0, FrameType.CreateChannel) => PrefixLength + 4,
        (_, FrameType.CreateChannel) => PrefixLength + 5,
        (_, FrameType.ChannelPayload) => PrefixLength + 6,
        (0, _) => 0,
        (_, FrameType.WindowUpdate or FrameType.ResetChannel or FrameType.GoAway) => PrefixLength + 8,
        (_, FrameType.Settings) => PrefixLength + 1,
        (_, FrameType.Ping) => PrefixLength + 9,
        _ => 0,
    };

    /// <inheritdoc />
    public override string ToString() => Type switch
    {
        FrameType.HandshakeRequest or FrameType.HandshakeReply => $"{Type} v{Version} magic=0x{Value:X8}",
        FrameType.ChannelPayload => $"{Type} v{Version} channel={Value} length={PayloadLength}",
        FrameType.WindowUpdate => $"{Type} v{Version} channel={Value} increment={Argument}",
        FrameType.ResetChannel => $"{Type} v{Version} channel={Value} code={Argument}",
        FrameType.GoAway => $"{Type} v{Version} last={Value} code={Argument}",
        FrameType.Settings => $"{Type} v{Version} entries={Value}",
        FrameType.Ping => $"{Type} v{Version} flags={Value} opaque={Opaque}",
        _ => $"{Type} v{Version} channel={Value}",
    };

    private static uint ReadU32(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32BigEndian(source);
}
