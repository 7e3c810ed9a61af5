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
    private bool _writesCompleted; // under the driver's gate, as the two below
    private bool _disposed;

    internal TcpChanStream(StreamChannel channel) => _channel = channel;


    /// <summary>The channel's id.</summary>
    public uint ChannelId => _channel.ChannelId;

    /// <summary>The label the opener gave, or null.</summary>
    public string? Label => _channel.Label;

    /// <summary>The session this channel belongs to.</summary>
    public TcpChanSession Session => _channel.Session;

    /// <summary>True when the peer opened this channel.</summary>
    public bool IsRemote => _channel.IsRemote;

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

    /// <summary>The core channel (for tests; use under the driver's gate).</summary>
    internal StreamChannel Channel => _channel;

    private ConnectionDriver Driver => _channel.Session.Driver;

    // Pooled state machines: a read or write that has to wait allocates nothing in steady state.

    /// <inheritdoc />
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_channel.Buffer.Length > 0 && _channel.Sink is null)
            {
                // The copy out of the buffer holds only the buffer's lock, not the session's gate;
                // the gate is taken for the credit alone. Consuming may produce a window update;
                // most reads produce nothing, and then the send loop is not woken.
                int n = _channel.Buffer.Read(buffer.Span);
                if (n > 0)
                {
                    lock (Driver.Gate)
                    {
                        _channel.Consumed(n);
                        Driver.TakeEventsAndSignal();
                    }

                    return n;
                }
            }

            lock (Driver.Gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_channel.Sink is not null)
                {
                    throw new InvalidOperationException("This channel is read through its pipe view (AsDuplexPipe).");
                }

                // Pending first, then the buffer: a copy adds to the buffer before it stops
                // counting as pending, so nothing received is missed before the end is reported.
                if (_channel.PendingCopy == 0)
                {
                    if (_channel.Buffer.Length > 0)
                    {
                        continue; // arrived meanwhile
                    }

                    if (_channel.Failure is { } failure)
                    {
                        throw Rethrow(failure);
                    }

                    if (_channel.IsClosed || _channel.IsEndOfData)
                    {
                        return 0;
                    }
                }
            }

            await _channel.Readable.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n;
            bool output;
            AsyncSignal? writable = null;
            lock (Driver.Gate)
            {
                ThrowIfUnwritable();

                // Checked before writing, under the same lock: however many channels write at
                // once, the session's output not yet sent stays near the limit.
                n = Driver.IsOverUnsentLimit ? -1 : _channel.TryWrite(buffer.Span);
                if (n > 0)
                {
                    Driver.AddUnsent(n);
                }

                if (n >= 0 && n < buffer.Length)
                {
                    // Made under the gate, with the write that found no credit: a window update
                    // handled after it wakes this wait (the signal remembers a wake-up before the wait).
                    writable = _channel.Writable;
                }

                output = Driver.TakeEvents();
            }

            if (output)
            {
                // Sent from this thread when no send is in progress (no wake-up of the send
                // loop); a cancelable write does not wait past its token for a slow transport.
                var send = Driver.SendNowAsync();
                if (!send.IsCompleted && cancellationToken.CanBeCanceled)
                {
                    await send.AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await send.ConfigureAwait(false);
                }
            }

            if (n < 0)
            {
                await Driver.WaitForDrainAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            buffer = buffer.Slice(n);
            if (!buffer.IsEmpty)
            {
                TcpChanMetrics.FlowControlStalls.Add(1);
                await writable!.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await Driver.WaitForDrainAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends this side's data (half-close): the peer reads to the end; this side can still read. Writing afterwards throws <see cref="InvalidOperationException"/>.</summary>
    public void CompleteWrites()
    {
        lock (Driver.Gate)
        {
            _writesCompleted = true;
            _channel.CompleteWrites();
        }

        Driver.SignalSend();
    }

    /// <summary>Resets the channel at once with <paramref name="code"/>; pending and later operations on both sides fail.</summary>
    public void Abort(ErrorCode code = ErrorCode.Cancel)
    {
        lock (Driver.Gate)
        {
            _channel.Abort(code);
        }

        Driver.SignalSend();
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
        if (disposing)
        {
            lock (Driver.Gate)
            {
                // The core drops what was not read; the stream gives its buffer back too.
                _disposed = true;
                _writesCompleted = true;
                _channel.Buffer.Clear();
                _channel.Close();

                // A read or write still waiting (on another thread) must not wait for the peer:
                // it wakes, finds the stream disposed and throws ObjectDisposedException.
                _channel.Readable.Complete();
                _channel.WritableIfCreated?.Complete();
            }

            Driver.SignalSend();
        }

        base.Dispose(disposing);
    }

    private void ThrowIfUnwritable()
    {
        // Misuse first, the same whatever the channel's state: the caller ended its own writes.
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_writesCompleted)
        {
            throw new InvalidOperationException($"Channel {ChannelId}: writes were completed; nothing more can be written.");
        }

        if (_channel.Failure is { } failure)
        {
            throw Rethrow(failure);
        }

        if (_channel.IsClosed)
        {
            throw new TcpChanChannelException(ChannelId, _channel.CloseReason!.Value, _channel.CloseCode);
        }
    }

    // Each throw gets its own exception object where it can, so stack traces stay truthful.
    private static Exception Rethrow(Exception failure) => failure switch
    {
        TcpChanChannelException c => new TcpChanChannelException(c.ChannelId, c.Reason, c.Code, c),
        TcpChanSessionException s => new TcpChanSessionException(s.Reason, s.Message, s.Code, s),
        _ => failure,
    };
}
