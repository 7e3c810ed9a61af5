namespace TcpChan.Core;

/// <summary>
/// A payload frame arrived for a channel that is not open (never created, or already
/// closed here: a normal race, since the peer may send before it sees our close). Its
/// bytes were dropped; this event says so, so that no data is lost silently.
/// </summary>
public sealed class DataDiscarded : ConnectionEvent
{
    /// <summary>Creates the event.</summary>
    public DataDiscarded(uint channelId, int byteCount)
    {
        ChannelId = channelId;
        ByteCount = byteCount;
    }

    /// <summary>The channel id the frame named.</summary>
    public uint ChannelId { get; }

    /// <summary>How many payload bytes were dropped.</summary>
    public int ByteCount { get; }

    /// <inheritdoc />
    public override string ToString() => $"DataDiscarded(id={ChannelId}, bytes={ByteCount})";
}
