namespace TcpChan.Core;

/// <summary>
/// One logical, bidirectional byte channel of a <see cref="Connection"/>. Subclass it and
/// override <see cref="DataReceived"/>; the connection's channel factory makes one per
/// channel, on either side.
/// </summary>
/// <remarks>
/// Like the connection, a channel is not thread-safe: call it from the thread that drives
/// its connection. The callbacks run inside the connection's calls; an exception thrown
/// from one closes this channel (reason <see cref="ChannelCloseReason.ApplicationError"/>)
/// and never reaches the other channels or the connection.
/// </remarks>
public abstract class Channel
{
    private Connection? _connection;

    /// <summary>The id both sides use for this channel.</summary>
    public uint ChannelId { get; private set; }

    /// <summary>The connection this channel belongs to.</summary>
    /// <exception cref="InvalidOperationException">The channel was not made by a connection.</exception>
    public Connection Connection => _connection ?? throw new InvalidOperationException("This channel is not attached to a connection.");

    /// <summary>True when the peer created this channel.</summary>
    public bool IsRemote { get; private set; }

    /// <summary>True once the channel is closed, by either side or with the connection.</summary>
    public bool IsClosed => CloseReason.HasValue;

    /// <summary>Why the channel closed, or null while it is open.</summary>
    public ChannelCloseReason? CloseReason { get; private set; }

    /// <summary>
    /// Sends bytes to the peer's side of this channel. Any length: more than 65,535 bytes
    /// are split across several payload frames. An empty write sends nothing.
    /// </summary>
    /// <exception cref="ChannelClosedException">The channel is closed.</exception>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (_connection is null || CloseReason.HasValue)
        {
            throw new ChannelClosedException(ChannelId, CloseReason ?? ChannelCloseReason.LocalClose);
        }

        _connection.WriteChannel(this, data);
    }

    /// <summary>Closes the channel and tells the peer. Does nothing if it is already closed.</summary>
    public void Close()
    {
        if (_connection is not null && !CloseReason.HasValue)
        {
            _connection.CloseChannel(ChannelId);
        }
    }

    /// <summary>Called once, when the channel has been created (on either side), before its <see cref="ChannelCreated"/> event.</summary>
    protected internal virtual void OnCreated()
    {
    }

    /// <summary>
    /// Called with bytes the peer wrote on this channel, in order. The span is a slice of the
    /// connection's input, valid only during the call: copy what you keep. Chunks do not
    /// follow the peer's write or frame boundaries.
    /// </summary>
    protected internal abstract void DataReceived(ReadOnlySpan<byte> data);

    /// <summary>Called once, when the channel has closed, before its <see cref="ChannelClosed"/> event.</summary>
    protected internal virtual void OnClosed(ChannelCloseReason reason)
    {
    }

    internal void Attach(Connection connection, uint channelId, bool isRemote)
    {
        if (_connection is not null)
        {
            throw new InvalidOperationException("The channel factory must return a new channel each time.");
        }

        _connection = connection;
        ChannelId = channelId;
        IsRemote = isRemote;
    }

    internal void MarkClosed(ChannelCloseReason reason) => CloseReason = reason;
}
