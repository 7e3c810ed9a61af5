using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;

namespace TcpChan.Bench.Link;

/// <summary>
/// One end of a connection over an <see cref="EmulatedLink"/>, as a <see cref="Stream"/> (so that
/// raw "TCP", an <see cref="System.Net.Security.SslStream"/> or a TcpChan session can run over it).
/// Writes go into the link's bottleneck toward the peer end, within the peer's receive window;
/// reads take what the link delivered. Disposing sends a FIN behind the data already written.
/// </summary>
internal sealed class LinkStream : AsyncStream
{
    /// <summary>The most one write hands to the bottleneck at once, so a long write overshoots its buffer by at most this.</summary>
    private const int MaxPiece = 64 * 1024;

    // Never pauses the delivery thread: the receive window already bounds what can arrive.
    private static readonly PipeOptions ReceiveOptions = new(
        pauseWriterThreshold: 0,
        resumeWriterThreshold: 0,
        readerScheduler: PipeScheduler.ThreadPool,
        writerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false);

    private readonly Pipe _received = new(ReceiveOptions);
    private readonly LinkDirection _out;
    private readonly long _window;
    private readonly object _windowGate = new();
    private long _unread; // sent toward this end and not read yet: what the window holds
    private long _maxUnread;
    private TaskCompletionSource? _windowOpened;
    private volatile bool _closed;
    private bool _finReceived; // delivery thread only

    public LinkStream(LinkDirection output, long receiveWindow)
    {
        _out = output;
        _window = receiveWindow;
    }

    /// <summary>The other end of the connection.</summary>
    public LinkStream Peer { get; set; } = null!;

    /// <summary>The most bytes ever sent toward this end and not yet read (never above the receive window).</summary>
    public long MaxUnread
    {
        get
        {
            lock (_windowGate)
            {
                return _maxUnread;
            }
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        var reader = _received.Reader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var data = result.Buffer;
            if (data.IsEmpty || buffer.IsEmpty)
            {
                // A zero-byte read (SslStream makes them) waits for data and takes none.
                reader.AdvanceTo(data.Start);
                if (result.IsCompleted || buffer.IsEmpty)
                {
                    return 0;
                }

                continue;
            }

            int n = (int)Math.Min(data.Length, buffer.Length);
            data.Slice(0, n).CopyTo(buffer.Span);
            reader.AdvanceTo(data.GetPosition(n));
            Consumed(n);
            return n;
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        while (!buffer.IsEmpty)
        {
            var (granted, opened) = Peer.Reserve(Math.Min(buffer.Length, MaxPiece));
            if (granted == 0)
            {
                await opened!.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                long wait;
                while ((wait = _out.TrySend(Peer, buffer.Span[..granted])) > 0)
                {
                    // The bottleneck buffer is full. Millisecond timers are fine here: the buffer
                    // holds at least 10 ms of data, so the link does not idle while we oversleep.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(wait * 1000.0 / Stopwatch.Frequency))), cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                Peer.Consumed(granted); // nothing of it was sent
                throw;
            }

            buffer = buffer[granted..];
        }
    }

    /// <summary>Delivery thread: bytes arrived for this end (dropped once it is disposed).</summary>
    internal void Deliver(ReadOnlySpan<byte> data)
    {
        if (_closed || _finReceived)
        {
            return;
        }

        _received.Writer.Write(data);
        var flush = _received.Writer.FlushAsync();
        if (!flush.IsCompleted)
        {
            throw new InvalidOperationException("the receive pipe paused"); // cannot happen: it never pauses
        }

        flush.GetAwaiter().GetResult();
    }

    /// <summary>Delivery thread: the peer's FIN arrived; reads end after what came before it.</summary>
    internal void DeliverFin()
    {
        _finReceived = true;
        _received.Writer.Complete();
    }

    /// <summary>The link closed under this end: pending and later reads and window waits fail.</summary>
    internal void Fail(Exception error)
    {
        _received.Writer.Complete(error);
        TaskCompletionSource? waiter;
        lock (_windowGate)
        {
            waiter = _windowOpened;
            _windowOpened = null;
        }

        waiter?.TrySetException(error);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_closed)
        {
            _closed = true;
            _out.SendControl(null, fin: Peer);
            _received.Reader.Complete();

            // What the peer sends from now on is dropped on arrival: its window stays open.
            TaskCompletionSource? waiter;
            lock (_windowGate)
            {
                _unread = 0;
                waiter = _windowOpened;
                _windowOpened = null;
            }

            waiter?.TrySetResult();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// The peer's writer asks for up to <paramref name="want"/> bytes of this end's receive
    /// window: returns how many it may send now, or 0 and a task that completes when the reader
    /// has taken some.
    /// </summary>
    private (int Granted, Task? Opened) Reserve(int want)
    {
        lock (_windowGate)
        {
            if (_closed)
            {
                return (want, null);
            }

            long free = _window - _unread;
            if (free <= 0)
            {
                _windowOpened ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return (0, _windowOpened.Task);
            }

            int granted = (int)Math.Min(want, free);
            _unread += granted;
            _maxUnread = Math.Max(_maxUnread, _unread);
            return (granted, null);
        }
    }

    /// <summary>The reader took <paramref name="n"/> bytes (or a reserved piece was never sent): the window opens by as much.</summary>
    private void Consumed(int n)
    {
        TaskCompletionSource? waiter;
        lock (_windowGate)
        {
            if (_closed)
            {
                return;
            }

            _unread -= n;
            waiter = _windowOpened;
            _windowOpened = null;
        }

        waiter?.TrySetResult();
    }
}
