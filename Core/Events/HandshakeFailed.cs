namespace TcpChan.Core;

/// <summary>
/// The handshake failed (wrong magic, or the peer sent something that is not a handshake).
/// This is the connection's last event: it processes no more input, and the driver
/// should close the transport.
/// </summary>
public sealed class HandshakeFailed : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public HandshakeFailed(HandshakeFailureReason kind, string reason)
    {
        Kind = kind;
        Reason = reason;
    }

    /// <summary>What went wrong, to switch on.</summary>
    public HandshakeFailureReason Kind { get; }

    /// <summary>Why, in words.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public override string ToString() => $"HandshakeFailed({Kind}: {Reason})";
}
