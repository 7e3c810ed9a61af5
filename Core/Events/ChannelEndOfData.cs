namespace TcpChan.Core;

/// <summary>Version 1: the peer will write no more on this channel (it half-closed). The channel may still write.</summary>
public sealed class ChannelEndOfData : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public ChannelEndOfData(uint channelId) => ChannelId = channelId;

    /// <summary>The channel's id.</summary>
    public uint ChannelId { get; }

    /// <inheritdoc />
    public override string ToString() => $"ChannelEndOfData(id={ChannelId})";
}
