using TcpChan.Core.Frames;

namespace TcpChan.Core.Yamux;

/// <summary>
/// Yamux frames for the connection's seam (hashicorp/yamux <c>spec.md</c>): opens, accepts,
/// ends and resets ride on window updates with SYN, ACK, FIN or RST, as Go's yamux sends them.
/// Yamux has no labels and no reset codes (both dropped here: the connection refuses a label
/// before it gets this far), a u32 ping value and three go-away codes.
/// </summary>
internal sealed class YamuxFrameEncoder : FrameEncoder
{
    /// <summary>The one instance (the encoder is stateless).</summary>
    public static readonly YamuxFrameEncoder Instance = new();

    private YamuxFrameEncoder()
    {
    }

    /// <inheritdoc />
    public override int DataHeaderLength => YamuxProtocol.HeaderLength;

    /// <summary>The go-away code for a connection's error code: 0 only for no error, 2 for this side's own failures, else 1.</summary>
    public static YamuxGoAwayCode GoAwayCode(ErrorCode code) => code switch
    {
        ErrorCode.NoError => YamuxGoAwayCode.Normal,
        ErrorCode.InternalError or ErrorCode.KeepAliveTimeout => YamuxGoAwayCode.InternalError,
        _ => YamuxGoAwayCode.ProtocolError,
    };

    /// <summary>The error code a received go-away code stands for (any code but 0 and 2 is a protocol error).</summary>
    public static ErrorCode ErrorCodeOf(YamuxGoAwayCode code) => code switch
    {
        YamuxGoAwayCode.Normal => ErrorCode.NoError,
        YamuxGoAwayCode.InternalError => ErrorCode.InternalError,
        _ => ErrorCode.ProtocolError,
    };

    /// <inheritdoc />
    public override int WriteDataHeader(Span<byte> destination, uint channelId, int payloadLength) =>
        YamuxFrameWriter.WriteDataHeader(destination, YamuxFlags.None, channelId, payloadLength);

    /// <inheritdoc />
    public override int WriteOpen(Span<byte> destination, uint channelId, ReadOnlySpan<byte> label, uint windowGrowth) =>
        YamuxFrameWriter.WriteWindowUpdate(destination, YamuxFlags.Syn, channelId, windowGrowth);

    /// <inheritdoc />
    public override int WriteAccept(Span<byte> destination, uint channelId, uint windowGrowth) =>
        YamuxFrameWriter.WriteWindowUpdate(destination, YamuxFlags.Ack, channelId, windowGrowth);

    /// <inheritdoc />
    public override int WriteEnd(Span<byte> destination, uint channelId) =>
        YamuxFrameWriter.WriteWindowUpdate(destination, YamuxFlags.Fin, channelId, 0);

    /// <inheritdoc />
    public override int WriteReset(Span<byte> destination, uint channelId, ErrorCode code) =>
        YamuxFrameWriter.WriteWindowUpdate(destination, YamuxFlags.Rst, channelId, 0);

    /// <inheritdoc />
    public override int WriteWindowUpdate(Span<byte> destination, uint channelId, uint increment) =>
        YamuxFrameWriter.WriteWindowUpdate(destination, YamuxFlags.None, channelId, increment);

    /// <inheritdoc />
    /// <remarks>The connection keeps yamux pings within a u32.</remarks>
    public override int WritePing(Span<byte> destination, bool ack, ulong opaque) =>
        YamuxFrameWriter.WritePing(destination, ack, checked((uint)opaque));

    /// <inheritdoc />
    public override int WriteGoAway(Span<byte> destination, uint lastChannelId, ErrorCode code) =>
        YamuxFrameWriter.WriteGoAway(destination, GoAwayCode(code));
}
