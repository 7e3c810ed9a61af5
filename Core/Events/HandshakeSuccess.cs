namespace TcpChan.Core;

/// <summary>The handshake completed; channels may now be created on both sides.</summary>
public sealed class HandshakeSuccess : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public HandshakeSuccess(byte version) => Version = version;

    /// <summary>The protocol version both sides use from now on.</summary>
    public byte Version { get; }

    /// <inheritdoc />
    public override string ToString() => $"HandshakeSuccess(version={Version})";
}
