using TcpChan.Core;

namespace TcpChan.Internal;

/// <summary>
/// The core channel behind a <see cref="TcpChanStream"/> (and its pipe view): what arrives goes
/// to its <see cref="ChannelInbox"/> through the input pump, in order, and the peer gets credit
/// back only as the reader takes bytes (manual consume), so a slow reader slows its writer
/// instead of growing memory.
/// </summary>
internal sealed class StreamChannel : Channel
{
    private AsyncSignal? _writable;

    public StreamChannel(TcpChanSession session)
        : base(autoConsume: false)
    {
        Session = session;
        Inbox = new ChannelInbox(this, session.Segments, session.Credit);
        Stream = new TcpChanStream(this);
    }

    public TcpChanSession Session { get; }

    public TcpChanStream Stream { get; }

    public ChannelInbox Inbox { get; }

    /// <summary>Wakes a writer waiting for credit or for room in the output. Made the first time a writer has to wait (under the gate).</summary>
    public AsyncSignal Writable => _writable ??= new AsyncSignal();

    /// <summary>The writer's signal, if a writer ever waited.</summary>
    public AsyncSignal? WritableIfWaited => _writable;

    /// <summary>Set when the output no longer refers to the bytes of a write it did not copy (<see cref="Channel.TryWriteReferenced"/>).</summary>
    public AsyncSignal Sent => _sent ??= new AsyncSignal();

    private AsyncSignal? _sent;

    /// <summary>Why writes fail, once the channel ended abnormally (under the gate).</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Version 1 and yamux count credit; version 0 has none.</summary>
    public bool HasFlowControl => Session.HasFlowControl;

    /// <summary>The reader took <paramref name="count"/> bytes: the core may give the peer that much credit back. Under the gate.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void ConsumeLocked(int count)
    {
        if (!IsClosed)
        {
            Consume(count);
        }
    }

    protected override void DataReceived(ReadOnlySpan<byte> data)
    {
        // Only a driver that hands the core spans comes here (the adapters hand it memory).
        Inbox.Deliver(data, null, out bool creditDue);
        if (creditDue)
        {
            Inbox.GiveCreditBackLocked();
        }
    }

    protected override void DataReceived(ReadOnlyMemory<byte> data) => Session.Core.Input.PostData(Inbox, data);

    protected override void OnEndOfData() => Session.Core.Input.PostEnd(Inbox);

    protected override void OnWritable()
    {
        if (_writable is { } writable)
        {
            Session.Core.Input.Wake(writable);
        }
    }

    /// <summary>The channel closed (its <see cref="ChannelClosed"/> event, under the gate).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Closed(ChannelCloseReason reason)
    {
        if (reason is ChannelCloseReason.Completed or ChannelCloseReason.LocalClose or ChannelCloseReason.RemoteClose)
        {
            // A clean end: what is held can still be read, then end of stream. A waiting writer
            // wakes and finds the channel closed (no exception made unless one waits).
            Session.Core.Input.PostEnd(Inbox);
            _writable?.Complete();
            return;
        }

        // Not a clean end of data: reads and writes fail, saying why.
        Failure = reason is ChannelCloseReason.ConnectionClosed or ChannelCloseReason.ConnectionLost
            or ChannelCloseReason.ProtocolError or ChannelCloseReason.KeepAliveTimeout
            ? Session.SessionFailure(reason)
            : new TcpChanChannelException(ChannelId, reason, CloseCode);
        Session.Core.Input.PostFailure(Inbox, Failure);
        _writable?.Fail(Failure);
    }
}
