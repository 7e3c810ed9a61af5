namespace TcpChan.Core;

/// <summary>
/// Version 1: the peer is shutting down. Channels this side opened with ids above
/// <see cref="LastChannelId"/> were not processed and have been closed as
/// <see cref="ChannelCloseReason.Refused"/> (safe to retry elsewhere); the others finish
/// normally; new channels cannot be created.
/// </summary>
public sealed class GoAwayReceived : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public GoAwayReceived(uint lastChannelId, ErrorCode code)
    {
        LastChannelId = lastChannelId;
        Code = code;
    }

    /// <summary>The highest channel id opened by this side that the peer processed.</summary>
    public uint LastChannelId { get; }

    /// <summary>Why the peer goes away (<see cref="ErrorCode.NoError"/> for a graceful shutdown).</summary>
    public ErrorCode Code { get; }

    /// <inheritdoc />
    public override string ToString() => $"GoAwayReceived(last={LastChannelId}, code={Code})";
}
