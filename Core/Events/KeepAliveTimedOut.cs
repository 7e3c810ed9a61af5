namespace TcpChan.Core;

/// <summary>
/// Version 1: nothing arrived from the peer within the keepalive timeout. Every channel was
/// closed with <see cref="ChannelCloseReason.KeepAliveTimeout"/> first; a go-away with
/// <see cref="ErrorCode.KeepAliveTimeout"/> is queued; this is the connection's last event and
/// the driver should close the transport.
/// </summary>
public sealed class KeepAliveTimedOut : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public KeepAliveTimedOut(TimeSpan silence) => Silence = silence;

    /// <summary>How long nothing had arrived.</summary>
    public TimeSpan Silence { get; }

    /// <inheritdoc />
    public override string ToString() => $"KeepAliveTimedOut(silence={Silence})";
}
