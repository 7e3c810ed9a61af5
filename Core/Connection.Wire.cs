using TcpChan.Core.Frames;

namespace TcpChan.Core;

// The wire format behind one seam: every frame the connection sends once established goes
// through its encoder, chosen by protocol and version (TcpChan version 0 or 1, or yamux), so
// that what to send is decided once, above the format, for every protocol.
public abstract partial class Connection
{
    private FrameEncoder _encoder;

    /// <summary>This side's end of data on a channel (version 0: its close).</summary>
    private void WriteEndFrame(uint channelId)
    {
        var transmit = OutputTransmit();
        transmit.Advance(_encoder.WriteEnd(transmit.GetSpan(FrameEncoder.MaxControlFrameLength), channelId));
    }

    /// <summary>Resets a channel or refuses its open (version 1 and yamux).</summary>
    private void WriteResetFrame(uint channelId, ErrorCode code)
    {
        var transmit = OutputTransmit();
        transmit.Advance(_encoder.WriteReset(transmit.GetSpan(FrameEncoder.MaxControlFrameLength), channelId, code));
    }

    /// <summary>Credit for a channel, or on version 1 for the session (id 0).</summary>
    private void WriteWindowUpdateFrame(uint channelId, long increment)
    {
        var transmit = OutputTransmit();
        transmit.Advance(_encoder.WriteWindowUpdate(transmit.GetSpan(FrameEncoder.MaxControlFrameLength), channelId, checked((uint)increment)));
    }

    /// <summary>Yamux: accepts a stream the peer opened, granting what its window starts with above 256 KiB.</summary>
    private void WriteAcceptFrame(uint channelId)
    {
        var transmit = OutputTransmit();
        transmit.Advance(_encoder.WriteAccept(transmit.GetSpan(FrameEncoder.MaxControlFrameLength), channelId, InitialWindowGrowth));
    }
}
