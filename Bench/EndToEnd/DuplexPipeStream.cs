using System.Buffers;
using System.IO.Pipelines;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// A channel's <see cref="IDuplexPipe"/> seen as a <see cref="Stream"/>, so that the peers'
/// Stream code (mixed) runs verbatim on the pipelines row: a read copies out of what
/// <c>Input.ReadAsync</c> has and advances past it, a write is <c>Output.WriteAsync</c> (copy and
/// flush), dispose completes both halves.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe) : AsyncStream
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var data = result.Buffer;
            if (!data.IsEmpty)
            {
                int n = (int)Math.Min(data.Length, buffer.Length);
                data.Slice(0, n).CopyTo(buffer.Span);
                pipe.Input.AdvanceTo(data.GetPosition(n));
                return n;
            }

            pipe.Input.AdvanceTo(data.End);
            if (result.IsCompleted)
            {
                return 0;
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var flush = await pipe.Output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (flush.IsCanceled)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await pipe.Output.CompleteAsync().ConfigureAwait(false);
        await pipe.Input.CompleteAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            pipe.Output.Complete();
            pipe.Input.Complete();
        }

        base.Dispose(disposing);
    }
}
