namespace TcpChan.Core;

/// <summary>
/// The wire protocol a connection speaks, chosen when it is made
/// (<see cref="ConnectionOptions.Protocol"/>); both sides must choose the same. Nothing is
/// negotiated between the two: yamux has no handshake.
/// </summary>
public enum WireProtocol
{
    /// <summary>TcpChan: the handshake negotiates version 0 (Python tcpchan 0.1.1) or version 1 (docs/PROTOCOL.md).</summary>
    TcpChan,

    /// <summary>
    /// Yamux, hashicorp/yamux's protocol (Go's Consul, Nomad, Vault; libp2p): the same channels,
    /// flow control, half-close, reset, ping and go-away, without labels, settings or a session
    /// window (docs/PROTOCOL.md, "Yamux"). Established at once, with no handshake.
    /// </summary>
    Yamux,
}
