namespace TcpChan.Core;

/// <summary>A channel is closed and its id is no longer open; says why.</summary>
public sealed class ChannelClosed : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public ChannelClosed(uint channelId, ChannelCloseReason reason, Exception? exception = null, ErrorCode? code = null)
    {
        ChannelId = channelId;
        Reason = reason;
        Exception = exception;
        Code = code;
    }

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <summary>Why it closed.</summary>
    public ChannelCloseReason Reason { get; }

    /// <summary>The wire code of a reset or refusal, when there was one.</summary>
    public ErrorCode? Code { get; }

    /// <summary>True when the peer processed nothing of this channel, so opening it again is safe.</summary>
    public bool IsRetryable => Reason == ChannelCloseReason.Refused;

    /// <summary>What a channel callback threw, when the channel closed because of it (or because <see cref="Channel.OnClosed"/> threw).</summary>
    public Exception? Exception { get; }

    /// <inheritdoc />
    public override string ToString() => $"ChannelClosed(id={ChannelId}, reason={Reason}{(Code is null ? string.Empty : ", code=" + Code)})";
}
