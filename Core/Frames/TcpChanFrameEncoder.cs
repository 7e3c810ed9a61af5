namespace TcpChan.Core.Frames;

/// <summary>
/// TcpChan's frames (docs/PROTOCOL.md, versions 0 and 1), by <see cref="FrameWriter"/>, with the
/// version byte of the connection. Version 0 opens with a bare create (op 3) and has no labels,
/// credit, reset, ping or go-away: the connection never asks for those there.
/// </summary>
internal sealed class TcpChanFrameEncoder : FrameEncoder
{
    /// <summary>Version 0, the Python tcpchan 0.1.1 protocol.</summary>
    public static readonly TcpChanFrameEncoder Version0 = new(0);

    /// <summary>Version 1.</summary>
    public static readonly TcpChanFrameEncoder Version1 = new(1);

    private readonly byte _version;

    private TcpChanFrameEncoder(byte version) => _version = version;

    /// <inheritdoc />
    public override int DataHeaderLength => FrameWriter.PayloadHeaderLength;

    /// <summary>The encoder of <paramref name="version"/>.</summary>
    public static TcpChanFrameEncoder For(byte version) => version == 0 ? Version0 : Version1;

    /// <inheritdoc />
    public override int WriteDataHeader(Span<byte> destination, uint channelId, int payloadLength) =>
        FrameWriter.WriteChannelPayloadHeader(destination, _version, channelId, payloadLength);

    /// <inheritdoc />
    public override int WriteOpen(Span<byte> destination, uint channelId, ReadOnlySpan<byte> label, uint windowGrowth) =>
        _version == 0
            ? FrameWriter.WriteCreateChannel(destination, _version, channelId)
            : FrameWriter.WriteOpenChannel(destination, _version, channelId, label);

    /// <inheritdoc />
    /// <remarks>TcpChan has no accept frame: a channel is open from its open on, so the connection never asks.</remarks>
    public override int WriteAccept(Span<byte> destination, uint channelId, uint windowGrowth) =>
        throw new NotSupportedException("TcpChan has no accept frame.");

    /// <inheritdoc />
    public override int WriteEnd(Span<byte> destination, uint channelId) =>
        FrameWriter.WriteCloseChannel(destination, _version, channelId);

    /// <inheritdoc />
    public override int WriteReset(Span<byte> destination, uint channelId, ErrorCode code) =>
        FrameWriter.WriteResetChannel(destination, _version, channelId, (uint)code);

    /// <inheritdoc />
    public override int WriteWindowUpdate(Span<byte> destination, uint channelId, uint increment) =>
        FrameWriter.WriteWindowUpdate(destination, _version, channelId, increment);

    /// <inheritdoc />
    public override int WritePing(Span<byte> destination, bool ack, ulong opaque) =>
        FrameWriter.WritePing(destination, _version, ack, opaque);

    /// <inheritdoc />
    public override int WriteGoAway(Span<byte> destination, uint lastChannelId, ErrorCode code) =>
        FrameWriter.WriteGoAway(destination, _version, lastChannelId, (uint)code);
}
