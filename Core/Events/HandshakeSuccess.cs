namespace TcpChan.Core;

/// <summary>
/// The handshake completed; channels may now be created on both sides. On yamux, which has no
/// handshake, it is reported as soon as the connection is established.
/// </summary>
public sealed class HandshakeSuccess : ConnectionEvent
{
    /// <summary>Creates the event for a TcpChan connection.</summary>
    public HandshakeSuccess(byte version)
        : this(version, WireProtocol.TcpChan)
    {
    }

    /// <summary>Creates the event.</summary>
    public HandshakeSuccess(byte version, WireProtocol protocol)
    {
        Version = version;
        Protocol = protocol;
    }

    /// <summary>The protocol version both sides use from now on (0 on yamux, its only version).</summary>
    public byte Version { get; }

    /// <summary>The wire protocol of the connection.</summary>
    public WireProtocol Protocol { get; }

    /// <inheritdoc />
    public override string ToString() => Protocol == WireProtocol.TcpChan ? $"HandshakeSuccess(version={Version})" : $"HandshakeSuccess({Protocol}, version={Version})";
}
