namespace TcpChan.Core;

/// <summary>What a channel factory is told about the channel it is asked to make.</summary>
public readonly struct ChannelOpenInfo
{
    /// <summary>Creates the info.</summary>
    public ChannelOpenInfo(uint channelId, bool isRemote, string? label = null)
    {
        ChannelId = channelId;
        IsRemote = isRemote;
        Label = label;
    }

    /// <summary>The id the channel will have.</summary>
    public uint ChannelId { get; }

    /// <summary>True when the peer is opening it, false when this side is.</summary>
    public bool IsRemote { get; }

    /// <summary>Version 1: the label the opener gave (UTF-8 on the wire, up to 255 bytes), or null.</summary>
    public string? Label { get; }
}
