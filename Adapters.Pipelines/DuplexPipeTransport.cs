using System.Buffers;
using System.IO.Pipelines;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// A transport over any <see cref="IDuplexPipe"/> (Kestrel's, a named pipe's, or any
/// <see cref="Stream"/> through <see cref="Create(Stream, bool)"/>: TLS, WebSocket, serial).
/// Received bytes are parsed where they lie in the pipe's buffers; the reader consumes them
/// all at once, since the core keeps the few header bytes of a cut frame itself.
/// </summary>
public sealed class DuplexPipeTransport : ITcpChanTransport, ISequenceTransport
{
    private readonly IDuplexPipe _pipe;
    private readonly IAsyncDisposable? _owned;

    /// <summary>Runs over <paramref name="pipe"/>; disposing completes both halves.</summary>
    public DuplexPipeTransport(IDuplexPipe pipe)
        : this(pipe, null)
    {
    }

    private DuplexPipeTransport(IDuplexPipe pipe, IAsyncDisposable? owned)
    {
        _pipe = pipe ?? throw new ArgumentNullException(nameof(pipe));
        _owned = owned;
    }

    /// <summary>A transport over a stream, through <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/> and <see cref="PipeWriter.Create(Stream, StreamPipeWriterOptions?)"/>.</summary>
    public static DuplexPipeTransport Create(Stream stream, bool leaveOpen = false)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        return new DuplexPipeTransport(new Pair(reader, writer), leaveOpen ? null : stream);
    }

    /// <inheritdoc />
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var result = await _pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
        var data = result.Buffer;
        int n = (int)Math.Min(buffer.Length, data.Length);
        data.Slice(0, n).CopyTo(buffer.Span);
        _pipe.Input.AdvanceTo(data.GetPosition(n));
        return n;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    async ValueTask<bool> ISequenceTransport.ReceiveAsync(Action<ReadOnlySequence<byte>> deliver, CancellationToken cancellationToken)
    {
        var result = await _pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
        var data = result.Buffer;
        if (!data.IsEmpty)
        {
            deliver(data);
        }

        _pipe.Input.AdvanceTo(data.End);
        return !(result.IsCompleted && data.IsEmpty) && !result.IsCanceled;
    }

    /// <inheritdoc />
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var flush = await _pipe.Output.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted)
        {
            throw new IOException("The transport's reader is gone.");
        }
    }

    /// <inheritdoc />
    /// <remarks>Every buffer copied into the pipe, then one flush.</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        var output = _pipe.Output;
        for (int i = 0; i < buffers.Count; i++)
        {
            output.Write(buffers[i].Span);
        }

        var flush = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted)
        {
            throw new IOException("The transport's reader is gone.");
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _pipe.Output.CompleteAsync().ConfigureAwait(false);
        await _pipe.Input.CompleteAsync().ConfigureAwait(false);
        if (_owned is not null)
        {
            await _owned.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class Pair : IDuplexPipe
    {
        public Pair(PipeReader input, PipeWriter output)
        {
            Input = input;
            Output = output;
        }

        public PipeReader Input { get; }

        public PipeWriter Output { get; }
    }
}
