namespace TcpChan.Core.Frames;

/// <summary>
/// The wire format of the frames a connection sends once it is established, behind one seam:
/// the connection says what to send (data, an open, an end of data, a reset, credit, a ping, a
/// go-away) and its encoder, chosen by its protocol and version, says how it looks on the wire
/// (<see cref="TcpChanFrameEncoder"/> for TcpChan versions 0 and 1,
/// <see cref="Yamux.YamuxFrameEncoder"/> for yamux). Each method writes one whole frame (a data
/// frame: its header) at the start of <c>destination</c> and returns its length.
/// </summary>
/// <remarks>
/// Pure and stateless: the instances are shared. What a format cannot say is the connection's to
/// know (it never asks version 0 for a reset, nor yamux for a session window update).
/// </remarks>
internal abstract class FrameEncoder
{
    /// <summary>The most any control frame (everything but data) takes: a version-1 open with a 255-byte label.</summary>
    public const int MaxControlFrameLength = FrameHeader.LabelOffset + FrameHeader.MaxLabelLength;

    /// <summary>Bytes of a data frame's header; the payload follows it.</summary>
    public abstract int DataHeaderLength { get; }

    /// <summary>The header of a data frame of <paramref name="payloadLength"/> bytes, which the caller writes right after it.</summary>
    public abstract int WriteDataHeader(Span<byte> destination, uint channelId, int payloadLength);

    /// <summary>Opens a channel, with <paramref name="label"/> where the format has labels and <paramref name="windowGrowth"/> bytes of window above the initial one where it grants them with the open.</summary>
    public abstract int WriteOpen(Span<byte> destination, uint channelId, ReadOnlySpan<byte> label, uint windowGrowth);

    /// <summary>Accepts a channel the peer opened (yamux's ACK), granting <paramref name="windowGrowth"/> bytes above the initial window.</summary>
    public abstract int WriteAccept(Span<byte> destination, uint channelId, uint windowGrowth);

    /// <summary>This side's end of data on a channel (version 1's op 4, yamux's FIN); on version 0, the same op 4 closes the channel.</summary>
    public abstract int WriteEnd(Span<byte> destination, uint channelId);

    /// <summary>Resets a channel, or refuses its open, with <paramref name="code"/> where the format carries one.</summary>
    public abstract int WriteReset(Span<byte> destination, uint channelId, ErrorCode code);

    /// <summary><paramref name="increment"/> more bytes of credit for a channel (or, on TcpChan version 1, for the session when <paramref name="channelId"/> is 0).</summary>
    public abstract int WriteWindowUpdate(Span<byte> destination, uint channelId, uint increment);

    /// <summary>A ping, or when <paramref name="ack"/> is true its answer, carrying <paramref name="opaque"/>.</summary>
    public abstract int WritePing(Span<byte> destination, bool ack, ulong opaque);

    /// <summary>A go-away with <paramref name="code"/>; <paramref name="lastChannelId"/> where the format names the last channel processed.</summary>
    public abstract int WriteGoAway(Span<byte> destination, uint lastChannelId, ErrorCode code);
}
