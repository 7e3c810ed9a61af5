using TcpChan.Core;

namespace TcpChan.Tests.Support;

/// <summary>A test channel that wants to hear of its own life, which the core reports as connection events.</summary>
public interface IChannelLife
{
    /// <summary>Its <see cref="ChannelCreated"/> event was taken.</summary>
    void Created();

    /// <summary>Its <see cref="ChannelClosed"/> event was taken.</summary>
    void Closed(ChannelCloseReason reason);
}

/// <summary>What the tests' drivers do with a channel's life events: tell the channel, as an application would.</summary>
public static class ChannelLife
{
    public static void Route(ConnectionEvent e)
    {
        switch (e)
        {
            case ChannelCreated { Channel: IChannelLife created }:
                created.Created();
                break;
            case ChannelClosed { Channel: IChannelLife closed } c:
                closed.Closed(c.Reason);
                break;
        }
    }
}
