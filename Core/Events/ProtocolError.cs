namespace TcpChan.Core;

/// <summary>
/// The peer broke the protocol after the handshake (unknown op, wrong version byte, a
/// second handshake, a channel id that is already open). Every open channel was closed
/// with <see cref="ChannelCloseReason.ProtocolError"/> first; this is the connection's
/// last event, it processes no more input, and the driver should close the transport.
/// </summary>
public sealed class ProtocolError : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public ProtocolError(ErrorCode code, string message)
    {
        Code = code;
        Message = message;
    }

    /// <summary>What kind of violation.</summary>
    public ErrorCode Code { get; }

    /// <summary>What exactly, in words.</summary>
    public string Message { get; }

    /// <inheritdoc />
    public override string ToString() => $"ProtocolError({Code}: {Message})";
}
