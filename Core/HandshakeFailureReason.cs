namespace TcpChan.Core;

/// <summary>What made a handshake fail (<see cref="HandshakeFailed.Kind"/>).</summary>
public enum HandshakeFailureReason
{
    /// <summary>The peer's first bytes are not a TCPChan frame at all: it speaks another protocol.</summary>
    NotTcpChan,

    /// <summary>A TCPChan frame, but not the one the handshake expects here.</summary>
    UnexpectedFrame,

    /// <summary>The peer uses another handshake magic.</summary>
    MagicMismatch,

    /// <summary>The server chose a version this client did not offer.</summary>
    VersionMismatch,

    /// <summary>Version 1: the peer's settings were refused.</summary>
    SettingsRejected,

    /// <summary>A client: the server did not answer the handshake request as TcpChan within <see cref="ConnectionOptions.HandshakeReplyTimeout"/> (it said nothing, or not a whole reply).</summary>
    NoReply,

    /// <summary>The handshake did not complete within <see cref="ConnectionOptions.HandshakeTimeout"/>.</summary>
    TimedOut,

    /// <summary>The transport closed during the handshake (a driver reports this; the core cannot see it).</summary>
    ConnectionClosed,
}
