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

    public AsyncSignal Writable { get; } = new();

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

        Sink = sink;
        if (Buffer.Length > 0)
        {
            var held = new byte[Buffer.Length];
            Buffer.Read(held);
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

        Buffer.Write(data);
        Session.Driver.Wake(Readable);
    }

    protected override void OnEndOfData()
    {
        Sink?.OnEnd(null);
        Readable.Set();
    }

    protected override void OnWritable() => Session.Driver.Wake(Writable);

    protected override void OnClosed(ChannelCloseReason reason)
    {
        if (reason is ChannelCloseReason.Completed or ChannelCloseReason.LocalClose or ChannelCloseReason.RemoteClose)
        {
            // A clean end: what is buffered can still be read, then end of stream. A waiting
            // writer wakes and finds the channel closed (no exception made unless one waits).
            Readable.Set();
            Writable.Complete();
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
            Writable.Fail(Failure);
        }

        Sink?.OnEnd(Failure);
        Session.OnChannelClosed();
    }
}
