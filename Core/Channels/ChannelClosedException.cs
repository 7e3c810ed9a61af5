namespace TcpChan.Core;

/// <summary>Thrown when the local application uses a channel that is already closed.</summary>
public sealed class ChannelClosedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ChannelClosedException(uint channelId, ChannelCloseReason reason, ErrorCode? code = null)
        : base($"Channel {channelId} is closed ({reason}{(code is null ? string.Empty : ", code " + code)}).")
    {
        ChannelId = channelId;
        Reason = reason;
        Code = code;
    }

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <summary>Why the channel closed.</summary>
    public ChannelCloseReason Reason { get; }

    /// <summary>The reset code, when the channel was reset.</summary>
    public ErrorCode? Code { get; }
}
