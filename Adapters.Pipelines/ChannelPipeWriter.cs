using System.Buffers;
using System.IO.Pipelines;

namespace TcpChan;

/// <summary>
/// The writing half of a <see cref="ChannelPipe"/>: bytes gather in a pooled buffer and leave
/// on <see cref="FlushAsync"/>, which waits for the peer's credit (backpressure) like
/// <see cref="TcpChanStream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>; the buffer
/// goes back to the pool once flushed, and <see cref="WriteAsync"/> with nothing buffered
/// skips it.
/// </summary>
internal sealed class ChannelPipeWriter : PipeWriter
{
    private readonly ChannelPipe _owner;
    private byte[] _buffer = Array.Empty<byte>();
    private int _written;
    private CancellationTokenSource? _flushCancel;

    public ChannelPipeWriter(ChannelPipe owner) => _owner = owner;

    /// <summary>True while this writer holds a pooled buffer (for tests).</summary>
    internal bool HoldsBuffer => _buffer.Length > 0;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written;

    public override void Advance(int bytes)
    {
        if (bytes < 0 || _written + bytes > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes));
        }

        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        _written == 0 ? new(new FlushResult(isCanceled: false, isCompleted: false)) : SendAsync(_buffer.AsMemory(0, _written), buffered: true, cancellationToken);

    /// <summary>Bytes written with nothing buffered go straight to the channel: no copy into this writer's buffer.</summary>
    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (_written == 0 && !source.IsEmpty)
        {
            return SendAsync(source, buffered: false, cancellationToken);
        }

        source.Span.CopyTo(GetSpan(source.Length));
        Advance(source.Length);
        return FlushAsync(cancellationToken);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendAsync(ReadOnlyMemory<byte> data, bool buffered, CancellationToken cancellationToken)
    {
        // One token source for every flush (reset after each), canceled by CancelPendingFlush or,
        // through a registration, by the caller's token: nothing allocated per flush.
        var cancel = _flushCancel ??= new CancellationTokenSource();
        using var link = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), cancel)
            : default;
        long before = _owner.Stream.BytesWritten;
        try
        {
            await _owner.Stream.WriteAsync(data, cancel.Token).ConfigureAwait(false);
            if (buffered)
            {
                // Sent: an idle writer holds no buffer (a thousand channels waiting to read would
                // otherwise each keep one).
                _written = 0;
                ReleaseBuffer();
            }

            return new FlushResult(isCanceled: false, isCompleted: false);
        }
        catch (OperationCanceledException)
        {
            // What the channel took is gone; the rest stays written but not flushed.
            KeepUnsent(data, buffered, (int)(_owner.Stream.BytesWritten - before));
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return new FlushResult(isCanceled: true, isCompleted: false);
        }
        finally
        {
            if (!cancel.TryReset())
            {
                cancel.Dispose();
                _flushCancel = null;
            }
        }
    }

    private void KeepUnsent(ReadOnlyMemory<byte> data, bool buffered, int sent)
    {
        var unsent = data.Span.Slice(sent);
        if (buffered)
        {
            unsent.CopyTo(_buffer);
            _written = unsent.Length;
        }
        else if (!unsent.IsEmpty)
        {
            unsent.CopyTo(GetSpan(unsent.Length));
            _written = unsent.Length;
        }
    }

    public override void CancelPendingFlush() => _flushCancel?.Cancel();

    public override void Complete(Exception? exception = null)
    {
        var core = _owner.Core;
        lock (core.Gate)
        {
            _owner.OutputCompleted = true;
            var channel = _owner.Channel;
            if (exception is not null)
            {
                channel.Abort(ChannelPipe.CodeOf(exception));
            }
            else if (!channel.IsClosed)
            {
                // What was written but not flushed still goes: the core queues it for credit.
                if (_written > 0)
                {
                    channel.Write(_buffer.AsSpan(0, _written));
                }

                channel.CompleteWrites();
                _owner.MaybeClose();
            }

            core.TakeEvents();
        }

        _written = 0;
        ReleaseBuffer();
        core.Output.Kick();
    }

    private void ReleaseBuffer()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = Array.Empty<byte>();
        }
    }

    private void Ensure(int sizeHint)
    {
        int needed = _written + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(16 * 1024, _buffer.Length * 2)));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = bigger;
    }
}
