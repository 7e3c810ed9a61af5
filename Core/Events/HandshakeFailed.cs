namespace TcpChan.Core;

/// <summary>
/// The handshake failed (wrong magic, or the peer sent something that is not a handshake).
/// This is the connection's last event: it processes no more input, and the driver
/// should close the transport.
/// </summary>
public sealed class HandshakeFailed : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public HandshakeFailed(string reason) => Reason = reason;

    /// <summary>Why, in words.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public override string ToString() => $"HandshakeFailed({Reason})";
}
