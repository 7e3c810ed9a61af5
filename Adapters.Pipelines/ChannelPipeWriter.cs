using System.Buffers;
using System.IO.Pipelines;

namespace TcpChan;

/// <summary>
/// The writing half of a <see cref="ChannelPipe"/>: bytes gather in a pooled buffer and leave
/// on <see cref="FlushAsync"/>, which waits for the peer's credit (backpressure) like
/// <see cref="TcpChanStream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.
/// </summary>
internal sealed class ChannelPipeWriter : PipeWriter
{
    private readonly ChannelPipe _owner;
    private byte[] _buffer = Array.Empty<byte>();
    private int _written;
    private CancellationTokenSource? _flushCancel;

    public ChannelPipeWriter(ChannelPipe owner) => _owner = owner;

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

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_written == 0)
        {
            return new FlushResult(isCanceled: false, isCompleted: false);
        }

        // One token source for every flush (reset after each), canceled by CancelPendingFlush or,
        // through a registration, by the caller's token: nothing allocated per flush.
        var cancel = _flushCancel ??= new CancellationTokenSource();
        using var link = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), cancel)
            : default;
        try
        {
            await _owner.Stream.WriteAsync(_buffer.AsMemory(0, _written), cancel.Token).ConfigureAwait(false);
            _written = 0;
            return new FlushResult(isCanceled: false, isCompleted: false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // CancelPendingFlush: what was not sent stays buffered.
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
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = Array.Empty<byte>();
        }

        core.Output.Kick();
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
