using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// The core channel behind a <see cref="TcpChanStream"/>: it buffers what arrives until the
/// stream's reader takes it, and only then gives the peer credit back (manual consume), so a
/// slow reader slows its writer instead of growing memory.
/// </summary>
internal sealed class StreamChannel : Channel
{
    public StreamChannel(TcpChanSession session)
        : base(autoConsume: false)
    {
        Session = session;
        Buffer = new ReceiveBuffer(session.Segments);
        Stream = new TcpChanStream(this);
    }

    public TcpChanSession Session { get; }

    public TcpChanStream Stream { get; }

    public ReceiveBuffer Buffer { get; }

    public AsyncSignal Readable { get; } = new();

    /// <summary>Bytes received and not yet copied into <see cref="Buffer"/> (the receive loop copies them once it lets go of the gate).</summary>
    public int PendingCopy => Volatile.Read(ref _pendingCopy);

    private int _pendingCopy;

    /// <summary>Wakes a writer waiting for credit. Made the first time a writer has to wait (under the gate), so a channel that never waits has none.</summary>
    public AsyncSignal Writable => _writable ??= new AsyncSignal();

    /// <summary>The writer's signal, if a writer ever waited.</summary>
    public AsyncSignal? WritableIfCreated => _writable;

    private AsyncSignal? _writable;

    /// <summary>Why reads and writes fail, once the channel ended abnormally.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Another view (the pipe adapter's) that takes the received data instead of <see cref="Buffer"/>.</summary>
    public IChannelSink? Sink { get; private set; }

    /// <summary>Hands received data to <paramref name="sink"/> from now on, with what is buffered so far. Under the gate.</summary>
    public void AttachSink(IChannelSink sink)
    {
        if (Sink is not null)
        {
            throw new InvalidOperationException("This channel already has a pipe view.");
        }

        // The receive loop may still be copying data in (outside the gate, without waiting for
        // anything): let it finish, so everything received goes to the sink, in order.
        SpinWait.SpinUntil(() => PendingCopy == 0);
        Sink = sink;
        var held = Buffer.TakeAll();
        if (held.Length > 0)
        {
            sink.OnData(held);
        }

        if (IsClosed || IsEndOfData)
        {
            sink.OnEnd(Failure);
        }
    }

    /// <summary>The reader took <paramref name="count"/> bytes: version 1 gives the peer that much credit back.</summary>
    public void Consumed(int count)
    {
        // Version 0 has no flow control, and the core counts nothing to consume there.
        if (Connection.Version > 0)
        {
            Consume(count);
        }
    }

    protected override void OnCreated()
    {
        if (IsRemote)
        {
            Session.OnRemoteChannel(this);
        }
    }

    protected override void DataReceived(ReadOnlySpan<byte> data)
    {
        if (Sink is not null)
        {
            Sink.OnData(data);
            return;
        }

        if (Session.Driver.TryDeferCopy(this, data))
        {
            Interlocked.Add(ref _pendingCopy, data.Length);
            return;
        }

        Buffer.Write(data);
        Session.Driver.Wake(Readable);
    }

    /// <summary>The receive loop, outside the gate: copies what <see cref="DataReceived"/> deferred, then wakes the reader.</summary>
    public void FinishCopy(ReadOnlySpan<byte> data)
    {
        // Refused once the channel failed or was disposed: the data is dropped with it.
        Buffer.TryWrite(data);

        // After the write: a reader that sees nothing pending sees the data (see TcpChanStream.ReadAsync).
        Interlocked.Add(ref _pendingCopy, -data.Length);
        Readable.Set();
    }

    protected override void OnEndOfData()
    {
        Sink?.OnEnd(null);
        Readable.Set();
    }

    protected override void OnWritable()
    {
        if (_writable is { } writable)
        {
            Session.Driver.Wake(writable);
        }
    }

    protected override void OnClosed(ChannelCloseReason reason)
    {
        if (reason is ChannelCloseReason.Completed or ChannelCloseReason.LocalClose or ChannelCloseReason.RemoteClose)
        {
            // A clean end: what is buffered can still be read, then end of stream. A waiting
            // writer wakes and finds the channel closed (no exception made unless one waits).
            Readable.Set();
            _writable?.Complete();
        }
        else
        {
            // Not a clean end of data: reads and writes fail, saying why.
            Buffer.Clear();
            Failure = reason is ChannelCloseReason.ConnectionClosed or ChannelCloseReason.ConnectionLost
                or ChannelCloseReason.ProtocolError or ChannelCloseReason.KeepAliveTimeout
                ? Session.SessionFailure(reason)
                : new TcpChanChannelException(ChannelId, reason, CloseCode);
            Readable.Fail(Failure);
            _writable?.Fail(Failure);
        }

        Sink?.OnEnd(Failure);
        Session.OnChannelClosed();
    }
}
