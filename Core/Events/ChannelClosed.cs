namespace TcpChan.Core;

/// <summary>A channel is closed and its id is no longer open; says why.</summary>
public sealed class ChannelClosed : ConnectionEvent
{
    /// <summary>Creates the event for a channel that was open.</summary>
    public ChannelClosed(Channel channel, ChannelCloseReason reason, Exception? exception = null, ErrorCode? code = null)
        : this(channel.ChannelId, reason, exception, code) => Channel = channel;

    /// <summary>Creates the event for a channel id (one whose factory threw never had a channel object).</summary>
    public ChannelClosed(uint channelId, ChannelCloseReason reason, Exception? exception = null, ErrorCode? code = null)
    {
        ChannelId = channelId;
        Reason = reason;
        Exception = exception;
        Code = code;
    }

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <summary>The channel object, or null when the factory threw before there was one.</summary>
    public Channel? Channel { get; }

    /// <summary>Why it closed.</summary>
    public ChannelCloseReason Reason { get; }

    /// <summary>The wire code of a reset or refusal, when there was one.</summary>
    public ErrorCode? Code { get; }

    /// <summary>True when the peer processed nothing of this channel, so opening it again is safe.</summary>
    public bool IsRetryable => Reason == ChannelCloseReason.Refused;

    /// <summary>What the channel factory or a channel callback threw, when the channel closed because of it.</summary>
    public Exception? Exception { get; }

    /// <inheritdoc />
    public override string ToString() => $"ChannelClosed(id={ChannelId}, reason={Reason}{(Code is null ? string.Empty : ", code=" + Code)})";
}
