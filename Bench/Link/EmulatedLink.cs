using System.Buffers;
using System.Threading.Channels;

namespace TcpChan.Bench.Link;

/// <summary>
/// A network link emulated in process, in user space (this machine's kernel has no netem): two
/// <see cref="LinkDirection"/>s, each a FIFO bottleneck with a rate, a buffer and a one-way
/// delay, shared by every connection made over the link. A connection is a pair of
/// <see cref="LinkStream"/>s; making one costs what TCP's three-way handshake costs the client,
/// one round trip before its first byte. See docs/BENCHMARKS.md, "The emulated link".
/// </summary>
internal sealed class EmulatedLink : IAsyncDisposable
{
    private readonly Channel<LinkStream> _accepted = Channel.CreateUnbounded<LinkStream>();
    private readonly List<LinkStream> _ends = new();
    private bool _disposed;

    public EmulatedLink(LinkOptions options)
    {
        Options = options;

        // In-flight segments live up to BDP + buffer per direction: keep that many arrays for reuse.
        int arrays = (int)Math.Min(1 << 20, 2 * (options.BdpBytes + options.EffectiveBufferBytes) / options.EffectiveSegmentBytes + 256);
        var pool = ArrayPool<byte>.Create(options.EffectiveSegmentBytes, arrays);
        Up = new LinkDirection("up", options, pool);
        Down = new LinkDirection("down", options, pool);
    }

    public LinkOptions Options { get; }

    /// <summary>Client to server.</summary>
    public LinkDirection Up { get; }

    /// <summary>Server to client.</summary>
    public LinkDirection Down { get; }

    /// <summary>
    /// Opens a connection as TCP does: the client's SYN crosses the link, the server's SYN-ACK
    /// comes back (ConnectAsync returns: one round trip), and the client's ACK goes out ahead of
    /// anything it writes; the server's end is accepted when that ACK arrives. Each step queues
    /// behind whatever the link is already carrying.
    /// </summary>
    public async Task<LinkStream> ConnectAsync(CancellationToken cancellationToken = default)
    {
        LinkStream client, server;
        lock (_ends)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long window = Options.EffectiveReceiveWindowBytes;
            client = new LinkStream(Up, window);
            server = new LinkStream(Down, window);
            client.Peer = server;
            server.Peer = client;
            _ends.Add(client);
            _ends.Add(server);
        }

        var established = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Up.SendControl(() => Down.SendControl(() => established.TrySetResult())); // SYN, SYN-ACK
        await established.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        Up.SendControl(() => _accepted.Writer.TryWrite(server)); // ACK
        return client;
    }

    /// <summary>The server's end of the next connection a client made.</summary>
    public async ValueTask<LinkStream> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new IOException("the link is closed");
        }
    }

    /// <summary>Both directions' totals, one line each.</summary>
    public string Report() => $"LINK {Options}\nLINK {Up.Stats()}\nLINK {Down.Stats()}";

    /// <summary>Stops both directions; every pending and later read, write and accept fails with an <see cref="IOException"/>.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_ends)
        {
            if (_disposed)
            {
                return default;
            }

            _disposed = true;
        }

        _accepted.Writer.TryComplete();
        Up.Dispose();
        Down.Dispose();
        var error = new IOException("the link is closed");
        foreach (var end in _ends)
        {
            end.Fail(error);
        }

        return default;
    }
}
