using TcpChan.Core.Flow;

namespace TcpChan.Core;

/// <summary>
/// One logical, bidirectional byte channel of a <see cref="Connection"/>. Subclass it and
/// override <see cref="DataReceived(ReadOnlySpan{byte})"/>; the connection's channel factory
/// makes one per channel, on either side.
/// </summary>
/// <remarks>
/// Each happening is reported once. The channel's own callbacks are its data flow:
/// <see cref="DataReceived(ReadOnlySpan{byte})"/>, <see cref="OnEndOfData"/> and
/// <see cref="OnWritable"/>. Its life, being created and closed, is the connection's news:
/// the <see cref="ChannelCreated"/> and <see cref="ChannelClosed"/> events.
/// Like the connection, a channel is not thread-safe: call it from the thread that drives
/// its connection. The callbacks run inside the connection's calls; an exception thrown
/// from one closes this channel (reason <see cref="ChannelCloseReason.ApplicationError"/>)
/// and never reaches the other channels or the connection.
/// </remarks>
public abstract class Channel
{
    private Connection? _connection;

    // Version-1 state, owned by the connection: half-close, and flow control in a type of its own.
    internal bool WritesCompleted;       // CompleteWrites/Close was called
    internal bool EndSent;               // our end-of-data frame is out
    internal bool EndReceived;           // the peer's end-of-data arrived
    internal bool ReadsClosed;           // Close(): incoming data is dropped
    internal bool Acknowledged;          // yamux: the peer acked this side's open (an RST before it is a refusal)
    internal ChannelFlow Flow;           // credit both ways (a struct, used in place)

    /// <summary>Creates a channel that counts data as consumed when <see cref="DataReceived(ReadOnlySpan{byte})"/> returns.</summary>
    protected Channel()
        : this(autoConsume: true)
    {
    }

    /// <summary>
    /// Creates a channel. With <paramref name="autoConsume"/> false the channel buffers what it
    /// receives and calls <see cref="Consume"/> as its reader takes bytes: only then does the
    /// peer get credit back (version 1), so a slow reader slows its writer.
    /// </summary>
    protected Channel(bool autoConsume) => AutoConsume = autoConsume;

    /// <summary>The id both sides use for this channel.</summary>
    public uint ChannelId { get; private set; }

    /// <summary>The connection this channel belongs to.</summary>
    /// <exception cref="InvalidOperationException">The channel was not made by a connection.</exception>
    public Connection Connection => _connection ?? throw new InvalidOperationException("This channel is not attached to a connection.");

    /// <summary>True when the peer created this channel.</summary>
    public bool IsRemote { get; private set; }

    /// <summary>Version 1: the label given when the channel was opened, or null.</summary>
    public string? Label { get; private set; }

    /// <summary>True when data counts as consumed as soon as <see cref="DataReceived(ReadOnlySpan{byte})"/> returns.</summary>
    public bool AutoConsume { get; }

    /// <summary>True once the channel is closed, by either side or with the connection.</summary>
    public bool IsClosed => CloseReason.HasValue;

    /// <summary>Why the channel closed, or null while it is open.</summary>
    public ChannelCloseReason? CloseReason { get; private set; }

    /// <summary>The reset or refusal code, when the channel closed with one.</summary>
    public ErrorCode? CloseCode { get; private set; }

    /// <summary>Version 1: the peer ended its data (half-closed); nothing more will arrive.</summary>
    public bool IsEndOfData => EndReceived;

    /// <summary>
    /// How urgent this channel's data is when several channels have data to send: 0 (most
    /// urgent) to 7, default 3 (<see cref="SendUrgency"/>), as the urgencies of RFC 9218. The more urgent channel's frames go
    /// first; channels of equal urgency take turns, one frame each. Local to this side (it is not
    /// sent to the peer); a change takes effect at the channel's next frame.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not 0 to 7.</exception>
    public int Urgency
    {
        get => _urgency;
        set
        {
            if ((uint)value >= SendScheduler.Levels)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "An urgency is 0 (most urgent) to 7.");
            }

            _urgency = value;
            _connection?.Reschedule(this);
        }
    }

    private int _urgency = SendUrgency.Default;

    /// <summary>Version 1: bytes <see cref="TryWrite"/> would take now: credit not yet spoken for by queued bytes. Version 0: unlimited.</summary>
    public long WritableBytes => _connection?.WritableBytes(this) ?? 0;

    /// <summary>
    /// Version 1: bytes written and not yet taken for sending: waiting for credit, or for their
    /// turn while other channels send. <see cref="OnWritable"/> is called once they have all been taken.
    /// </summary>
    public int QueuedBytes => Flow.QueuedBytes;

    /// <summary>
    /// Sends bytes to the peer's side of this channel. Any length: the bytes are split into
    /// frames, and (version 1) what the peer has no credit for yet is queued and sent as
    /// credit comes back (<see cref="QueuedBytes"/>, <see cref="OnWritable"/>). An empty write sends nothing.
    /// </summary>
    /// <exception cref="ChannelClosedException">The channel is closed.</exception>
    /// <exception cref="InvalidOperationException">Writes were completed (<see cref="CompleteWrites"/>).</exception>
    public void Write(ReadOnlySpan<byte> data) => RequireConnection().WriteChannel(this, data, queue: true);

    /// <summary>
    /// Version 1: takes as much of <paramref name="data"/> as there is credit for, and returns
    /// how many bytes were taken; they leave as the connection's output is taken, in turn with
    /// other channels'. Never queues beyond the credit: when it returns less than asked,
    /// <see cref="OnWritable"/> says when to try again. Version 0 takes everything.
    /// </summary>
    public int TryWrite(ReadOnlySpan<byte> data) => RequireConnection().WriteChannel(this, data, queue: false);

    /// <summary>
    /// Version 1, with pulled output (<see cref="Connection.OutputAsEvents"/> false): sends the
    /// first frame of <paramref name="data"/> without copying it, when it may go straight out
    /// (no other channel waits to send, this one has nothing queued, there is credit). The output
    /// then refers to those bytes until the <see cref="DataTransmit"/> that carries them is
    /// disposed, and <paramref name="owner"/> is told then (<see cref="IReferencedWrite.Released"/>):
    /// keep the memory untouched until that. Returns how many bytes it took this way, 0 when it
    /// cannot (write with <see cref="TryWrite"/> then, which copies).
    /// </summary>
    /// <exception cref="ChannelClosedException">The channel is closed.</exception>
    /// <exception cref="InvalidOperationException">Writes were completed (<see cref="CompleteWrites"/>).</exception>
    public int TryWriteReferenced(ReadOnlyMemory<byte> data, IReferencedWrite owner) => RequireConnection().WriteReferenced(this, data, owner);

    /// <summary>
    /// Version 1: ends this side's data (half-close) once everything queued is sent; the
    /// channel stays open for reading until the peer ends too. Version 0 has no half-close:
    /// this closes the channel. Idempotent.
    /// </summary>
    public void CompleteWrites()
    {
        if (_connection is not null && !IsClosed)
        {
            _connection.CompleteWrites(this);
        }
    }

    /// <summary>
    /// Closes the channel and tells the peer. Version 0: closed at once. Version 1: ends
    /// this side's data (queued bytes still go), drops whatever arrives from now on, and the
    /// channel is closed when the peer ends its side too. Does nothing if already closed.
    /// </summary>
    public void Close()
    {
        if (_connection is not null && !IsClosed)
        {
            _connection.CloseChannelCore(this);
        }
    }

    /// <summary>
    /// Version 1: aborts the channel at once with <paramref name="code"/>: queued data is
    /// dropped and the peer's channel closes with <see cref="ChannelCloseReason.RemoteReset"/>.
    /// Version 0 has no reset: the channel is closed. Does nothing if already closed.
    /// </summary>
    public void Abort(ErrorCode code = ErrorCode.Cancel)
    {
        if (_connection is not null && !IsClosed)
        {
            _connection.AbortChannel(this, code);
        }
    }

    /// <summary>
    /// For a channel made with autoConsume false: the reader has taken
    /// <paramref name="count"/> more bytes, so the peer may send that much more (version 1).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">More than has been received and not yet consumed.</exception>
    public void Consume(int count)
    {
        if (AutoConsume)
        {
            throw new InvalidOperationException("This channel consumes automatically.");
        }

        // After the channel closed, what it held was already released: nothing to give back.
        if (_connection is not null && !IsClosed)
        {
            _connection.Consume(this, count);
        }
    }

    /// <summary>
    /// Version 1: lets the peer send <paramref name="additionalBytes"/> more on this channel
    /// before anything more is consumed, by growing the channel's window (up to the session
    /// budget, which still bounds everything buffered). For a reader that must see more than a
    /// window before it can consume anything, such as a parser looking for a delimiter. Does
    /// nothing on version 0 or once the peer ended its data.
    /// </summary>
    public void ExtendWindow(int additionalBytes)
    {
        if (_connection is not null && !IsClosed)
        {
            _connection.ExtendWindow(this, additionalBytes);
        }
    }

    /// <summary>Version 1: this channel's receive window: what the peer may have in flight or unconsumed.</summary>
    public long ReceiveWindowSize => Flow.ReceiveWindow;

    /// <summary>
    /// Called with bytes the peer wrote on this channel, in order. The span is a slice of the
    /// connection's input, valid only during the call: copy what you keep. Chunks do not
    /// follow the peer's write or frame boundaries.
    /// </summary>
    protected abstract void DataReceived(ReadOnlySpan<byte> data);

    /// <summary>
    /// Called instead of <see cref="DataReceived(ReadOnlySpan{byte})"/> when the driver gave the
    /// connection its input as memory (<see cref="Connection.DataReceived(ReadOnlyMemory{byte}, TimeSpan)"/>):
    /// <paramref name="data"/> is a slice of that memory, valid for as long as the driver keeps
    /// it, so a channel can copy it later (after the driver released its lock) without copying
    /// it first. By default, hands the bytes to <see cref="DataReceived(ReadOnlySpan{byte})"/>.
    /// </summary>
    protected virtual void DataReceived(ReadOnlyMemory<byte> data) => DataReceived(data.Span);

    /// <summary>Version 1: called once when the peer has ended its data (half-close).</summary>
    protected virtual void OnEndOfData()
    {
    }

    /// <summary>
    /// Version 1: called when writing may go on: credit came back after a write was held back
    /// for want of it (<see cref="TryWrite"/> took less than asked, <see cref="WritableBytes"/>
    /// was 0), or every byte a write left queued has been taken for sending
    /// (<see cref="QueuedBytes"/> is 0 again). It may come when there is nothing new to do.
    /// </summary>
    protected virtual void OnWritable()
    {
    }

    // The callbacks are protected (users override them) and the connection calls them here.
    internal void RaiseDataReceived(ReadOnlySpan<byte> data) => DataReceived(data);

    internal void RaiseDataReceived(ReadOnlyMemory<byte> data) => DataReceived(data);

    internal void RaiseEndOfData() => OnEndOfData();

    internal void RaiseWritable() => OnWritable();

    internal void Attach(Connection connection, uint channelId, bool isRemote, string? label)
    {
        if (_connection is not null)
        {
            throw new InvalidOperationException("The channel factory must return a new channel each time.");
        }

        _connection = connection;
        ChannelId = channelId;
        IsRemote = isRemote;
        Label = label;
    }

    internal void MarkClosed(ChannelCloseReason reason, ErrorCode? code)
    {
        CloseReason = reason;
        CloseCode = code;
    }

    private Connection RequireConnection()
    {
        if (_connection is null || CloseReason.HasValue)
        {
            throw new ChannelClosedException(ChannelId, CloseReason ?? ChannelCloseReason.LocalClose);
        }

        return _connection;
    }
}
