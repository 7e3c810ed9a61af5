namespace TcpChan.Core;

/// <summary>A channel now exists, created by this side or by the peer.</summary>
public sealed class ChannelCreated : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public ChannelCreated(Channel channel) => Channel = channel;

    /// <summary>The channel's id.</summary>
    public uint ChannelId => Channel.ChannelId;

    /// <summary>The channel object the factory made.</summary>
    public Channel Channel { get; }

    /// <summary>True when the peer created it, false when this side did.</summary>
    public bool IsRemote => Channel.IsRemote;

    /// <inheritdoc />
    public override string ToString() => $"ChannelCreated(id={ChannelId}, remote={IsRemote})";
}
