namespace TcpChan.Core;

/// <summary>Thrown when the local application uses a channel that is already closed.</summary>
public sealed class ChannelClosedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ChannelClosedException(uint channelId, ChannelCloseReason reason)
        : base($"Channel {channelId} is closed ({reason}).")
    {
        ChannelId = channelId;
        Reason = reason;
    }

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <summary>Why the channel closed.</summary>
    public ChannelCloseReason Reason { get; }
}
