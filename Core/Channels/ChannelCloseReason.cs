namespace TcpChan.Core;

/// <summary>Why a channel closed.</summary>
public enum ChannelCloseReason
{
    /// <summary>Version 0: this side closed it (<see cref="Channel.Close"/> or <see cref="Connection.CloseChannel"/>).</summary>
    LocalClose,

    /// <summary>Version 0: the peer closed it.</summary>
    RemoteClose,

    /// <summary>This side closed the whole connection (<see cref="Connection.Close"/>).</summary>
    ConnectionClosed,

    /// <summary>The transport went away (<see cref="Connection.ConnectionLost"/>).</summary>
    ConnectionLost,

    /// <summary>The peer broke the protocol; see the connection's <see cref="ProtocolError"/> event.</summary>
    ProtocolError,

    /// <summary>A callback of this channel (or the channel factory) threw; see <see cref="ChannelClosed.Exception"/>.</summary>
    ApplicationError,

    /// <summary>Version 1: both sides ended their data and everything received was consumed: the normal end.</summary>
    Completed,

    /// <summary>Version 1: this side aborted it (<see cref="Channel.Abort"/>); the code is in <see cref="ChannelClosed.Code"/>.</summary>
    LocalReset,

    /// <summary>Version 1: the peer aborted it; the code is in <see cref="ChannelClosed.Code"/>.</summary>
    RemoteReset,

    /// <summary>
    /// Version 1: the peer did not process this channel (too many channels, or it is going
    /// away and the channel is above its last processed id). Nothing was processed: safe to retry.
    /// </summary>
    Refused,

    /// <summary>Version 1: nothing arrived from the peer within the keepalive timeout.</summary>
    KeepAliveTimeout,
}
