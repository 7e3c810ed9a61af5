namespace TcpChan.Core;

/// <summary>
/// Version 1: a channel that had run out of credit (its writes were queued, or
/// <see cref="Channel.TryWrite"/> took less than asked) has sent everything queued and may
/// write again without queuing.
/// </summary>
public sealed class ChannelWritable : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public ChannelWritable(uint channelId) => ChannelId = channelId;

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <inheritdoc />
    public override string ToString() => $"ChannelWritable(id={ChannelId})";
}
