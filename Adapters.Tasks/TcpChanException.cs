using TcpChan.Core;

namespace TcpChan;

/// <summary>Base of the exceptions TcpChan's adapters throw. An <see cref="IOException"/>, as stream users expect.</summary>
public class TcpChanException : IOException
{
    /// <summary>Creates the exception.</summary>
    public TcpChanException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>Why a session ended.</summary>
public enum SessionEndReason
{
    /// <summary>This side closed or disposed it, or the peer closed it after a go-away without error (its graceful close).</summary>
    Closed,

    /// <summary>The transport failed, or the peer closed it without a go-away.</summary>
    ConnectionLost,

    /// <summary>The handshake failed (wrong magic, not a TCPChan peer, timeout, or the peer closed the connection during it).</summary>
    HandshakeFailed,

    /// <summary>The peer broke the protocol; see <see cref="TcpChanSessionException.Code"/>.</summary>
    ProtocolError,

    /// <summary>Nothing arrived from the peer within the keepalive timeout.</summary>
    KeepAliveTimeout,
}

/// <summary>The session is over; every pending and later operation on it and its channels fails with this.</summary>
public sealed class TcpChanSessionException : TcpChanException
{
    /// <summary>Creates the exception.</summary>
    public TcpChanSessionException(SessionEndReason reason, string message, ErrorCode? code = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
        Code = code;
    }

    /// <summary>Creates the exception for a failed handshake, saying what failed.</summary>
    public TcpChanSessionException(HandshakeFailureReason handshakeFailure, string message, Exception? innerException = null)
        : this(SessionEndReason.HandshakeFailed, message, null, innerException) => HandshakeFailure = handshakeFailure;

    /// <summary>Why the session ended.</summary>
    public SessionEndReason Reason { get; }

    /// <summary>The protocol error's code, when there was one.</summary>
    public ErrorCode? Code { get; }

    /// <summary>When <see cref="Reason"/> is <see cref="SessionEndReason.HandshakeFailed"/>: what failed.</summary>
    public HandshakeFailureReason? HandshakeFailure { get; private init; }

    /// <summary>The same end, as a new object for another throw (its stack trace its own; the cause stays the inner exception).</summary>
    internal TcpChanSessionException Rethrow() => new(Reason, Message, Code, InnerException) { HandshakeFailure = HandshakeFailure };
}

/// <summary>A channel was reset, refused or otherwise ended abnormally; its data is not a clean end of stream.</summary>
public sealed class TcpChanChannelException : TcpChanException
{
    /// <summary>Creates the exception.</summary>
    public TcpChanChannelException(uint channelId, ChannelCloseReason reason, ErrorCode? code, Exception? innerException = null)
        : base($"Channel {channelId} ended: {reason}{(code is null ? string.Empty : " (" + code + ")")}.", innerException)
    {
        ChannelId = channelId;
        Reason = reason;
        Code = code;
    }

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <summary>How it ended.</summary>
    public ChannelCloseReason Reason { get; }

    /// <summary>The reset or refusal code.</summary>
    public ErrorCode? Code { get; }

    /// <summary>True when the peer processed nothing of the channel, so opening it again is safe.</summary>
    public bool IsRetryable => Reason == ChannelCloseReason.Refused;

    /// <summary>The same end, as a new object for another throw (its stack trace its own).</summary>
    internal TcpChanChannelException Rethrow() => new(ChannelId, Reason, Code, InnerException);
}
