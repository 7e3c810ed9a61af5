using System.Runtime.CompilerServices;
using TcpChan.Core;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// One channel of a <see cref="TcpChanSession"/> as a <see cref="Stream"/>. Reads return what
/// the peer wrote, then 0 once the peer ended its side; writes wait for the peer's credit
/// (backpressure). <see cref="CompleteWrites"/> ends this side while reading goes on;
/// disposing closes the channel; <see cref="Abort"/> resets it with a code. When the channel
/// or the session ends abnormally, reads and writes throw <see cref="TcpChanChannelException"/>
/// or <see cref="TcpChanSessionException"/>, never a silent end of stream.
/// </summary>
/// <remarks>One read and one write may be in flight at once, from any threads.</remarks>
public sealed class TcpChanStream : Stream
{
    private readonly StreamChannel _channel;
    private bool _writesCompleted; // under the session's gate, as the one below
    private bool _disposed;
    private long _bytesWritten;

    internal TcpChanStream(StreamChannel channel) => _channel = channel;

    /// <summary>The channel's id.</summary>
    public uint ChannelId => _channel.ChannelId;

    /// <summary>The label the opener gave, or null.</summary>
    public string? Label => _channel.Label;

    /// <summary>The session this channel belongs to.</summary>
    public TcpChanSession Session => _channel.Session;

    /// <summary>True when the peer opened this channel.</summary>
    public bool IsRemote => _channel.IsRemote;

    /// <summary>
    /// How urgent this channel's data is when several channels have data to send: 0 (most
    /// urgent) to 7, default 3 (<see cref="SendUrgency"/>). More urgent channels' frames go
    /// first; equal ones take turns, one frame each. Local to this side; a change takes effect
    /// at the channel's next frame.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not 0 to 7.</exception>
    public int Urgency
    {
        get
        {
            lock (Core.Gate)
            {
                return _channel.Urgency;
            }
        }

        set
        {
            lock (Core.Gate)
            {
                _channel.Urgency = value;
            }
        }
    }

    /// <summary>Why the channel closed, or null while it is open.</summary>
    public ChannelCloseReason? CloseReason => _channel.CloseReason;

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>
    /// Bytes this stream's writes have handed to the session so far, counted as they go: a write
    /// canceled part way has handed over some of its bytes (the pipe writer keeps the rest).
    /// </summary>
    internal long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>The core channel (for tests; use under the session's gate).</summary>
    internal StreamChannel Channel => _channel;

    private SessionCore Core => _channel.Session.Core;

    // Writes from this size on send their first frame from the caller's memory (a gathered send), not a copy.
    private const int ReferenceAtLeast = 16 * 1024;

    /// <inheritdoc />
    /// <remarks>
    /// Returns held bytes at once; otherwise waits, and the session copies the next data straight
    /// into <paramref name="buffer"/>. The continuation may run on the session's receive thread
    /// (which never waits for it): do not block in it.
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return new ValueTask<int>(0);
        }

        return _channel.Inbox.ReadAsync(buffer, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Completes once the bytes are in the session's output (not when the peer has them); waits
    /// while the peer has no credit for them (backpressure), or while the session has more than
    /// <see cref="TcpChanSessionOptions.MaxUnsentBytes"/> not yet sent. A write of 16 KiB or more
    /// with no cancellation token may send its bytes from <paramref name="buffer"/> itself, not a
    /// copy, and then completes once they are written to the transport.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = 0;
            bool referenced = false;
            AsyncSignal? wait = null;
            lock (Core.Gate)
            {
                ThrowIfUnwritable();

                // Checked before writing, under the same lock: however many channels write at
                // once, the session's output not yet sent stays near the limit.
                if (Core.Output.IsOverLimit)
                {
                    wait = _channel.Writable;
                    Core.Output.WaitForRoom(_channel);
                }
                else
                {
                    // A large write that cannot be canceled may send its first frame without a
                    // copy (the output refers to the caller's bytes, and the write returns once
                    // they are sent); the rest, and any cancelable write, is copied.
                    int r = buffer.Length >= ReferenceAtLeast && !cancellationToken.CanBeCanceled ? _channel.TryWriteReferenced(buffer, _channel.Sent) : 0;
                    referenced = r > 0;
                    n = r + (r < buffer.Length ? _channel.TryWrite(buffer.Span.Slice(r)) : 0);

                    // Made under the gate, with the write that found no credit: a window update
                    // handled after it wakes this wait (the signal remembers a wake-up before the wait).
                    if (n < buffer.Length)
                    {
                        wait = _channel.Writable;
                        TcpChanMetrics.FlowControlStalls.Add(1);
                    }
                }

                Core.TakeEvents();
            }

            Core.Output.Kick();
            if (referenced)
            {
                // Not before the output let go of the caller's bytes (sent, or dropped with the
                // session): the caller may reuse its buffer when this returns. Not cancelable:
                // the bytes are in the output already.
                await _channel.Sent.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            buffer = buffer.Slice(n);
            Volatile.Write(ref _bytesWritten, _bytesWritten + n);
            if (wait is not null)
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Ends this side's data (half-close): the peer reads to the end; this side can still read. Writing afterwards throws <see cref="InvalidOperationException"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void CompleteWrites()
    {
        lock (Core.Gate)
        {
            _writesCompleted = true;
            _channel.CompleteWrites();
            Core.TakeEvents();
        }

        Core.Output.Kick();
    }

    /// <summary>Resets the channel at once with <paramref name="code"/>; pending and later operations on both sides fail.</summary>
    public void Abort(ErrorCode code = ErrorCode.Cancel)
    {
        lock (Core.Gate)
        {
            _channel.Abort(code);
            Core.TakeEvents();
        }

        Core.Output.Kick();
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override string ToString() => $"TcpChanStream(channel {ChannelId}{(Label is null ? string.Empty : " '" + Label + "'")})";

    /// <summary>Closes the channel: ends this side's data and reads no more (see <see cref="Channel.Close"/>); later reads and writes throw <see cref="ObjectDisposedException"/>.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            lock (Core.Gate)
            {
                // What was not read is dropped (and its credit goes back); a read or write still
                // waiting on another thread wakes and throws ObjectDisposedException.
                _disposed = true;
                _writesCompleted = true;
                _channel.Inbox.Close();
                _channel.Close();
                _channel.WritableIfWaited?.Complete();
                Core.TakeEvents();
            }

            Core.Output.Kick();
        }

        base.Dispose(disposing);
    }

    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    private void ThrowIfUnwritable()
    {
        // Misuse first, the same whatever the channel's state: the caller ended its own writes.
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_writesCompleted)
        {
            throw new InvalidOperationException($"Channel {ChannelId}: writes were completed; nothing more can be written.");
        }

        // Each throw gets its own exception object, so stack traces stay truthful.
        switch (_channel.Failure)
        {
            case TcpChanChannelException c:
                throw c.Rethrow();
            case TcpChanSessionException s:
                throw s.Rethrow();
        }

        if (_channel.IsClosed)
        {
            throw new TcpChanChannelException(ChannelId, _channel.CloseReason!.Value, _channel.CloseCode);
        }
    }
}
