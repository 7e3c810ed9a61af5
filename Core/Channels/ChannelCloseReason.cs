namespace TcpChan.Core;

/// <summary>Why a channel closed.</summary>
public enum ChannelCloseReason
{
    /// <summary>This side closed it (<see cref="Channel.Close"/> or <see cref="Connection.CloseChannel"/>).</summary>
    LocalClose,

    /// <summary>The peer closed it.</summary>
    RemoteClose,

    /// <summary>This side closed the whole connection (<see cref="Connection.Close"/>).</summary>
    ConnectionClosed,

    /// <summary>The transport went away (<see cref="Connection.ConnectionLost"/>).</summary>
    ConnectionLost,

    /// <summary>The peer broke the protocol; see the connection's <see cref="ProtocolError"/> event.</summary>
    ProtocolError,

    /// <summary>A callback of this channel (or the channel factory) threw; see <see cref="ChannelClosed.Exception"/>.</summary>
    ApplicationError,
}
