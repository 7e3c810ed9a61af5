using System.Net.Sockets;

namespace TcpChan;

/// <summary>A transport over a connected <see cref="Socket"/>, with Nagle off; no allocation per send or receive.</summary>
public sealed class SocketTransport : ITcpChanTransport
{
    private readonly Socket _socket;
    private List<ArraySegment<byte>>? _segments; // the gathered send's buffers (one send at a time)

    /// <summary>Takes over a connected socket; disposing the transport closes it.</summary>
    public SocketTransport(Socket socket)
    {
        _socket = socket ?? throw new ArgumentNullException(nameof(socket));
        if (socket.ProtocolType == ProtocolType.Tcp)
        {
            socket.NoDelay = true;
        }
    }

    /// <summary>The socket.</summary>
    public Socket Socket => _socket;

    /// <inheritdoc />
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    /// <inheritdoc />
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int n = await _socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data.Slice(n);
        }
    }

    /// <inheritdoc />
    /// <remarks>One gathered send (<c>sendmsg</c>) of array-backed buffers; others are sent one after another.</remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public async ValueTask SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        var segments = _segments ??= new List<ArraySegment<byte>>();
        segments.Clear();
        long total = 0;
        for (int i = 0; i < buffers.Count; i++)
        {
            if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray(buffers[i], out var segment))
            {
                segments.Clear();
                for (int j = 0; j < buffers.Count; j++)
                {
                    await SendAsync(buffers[j], cancellationToken).ConfigureAwait(false);
                }

                return;
            }

            segments.Add(segment);
            total += segment.Count;
        }

        // The list overload takes no token: a send stuck when the session gives up is ended by
        // closing the socket.
        using var stop = cancellationToken.UnsafeRegister(static socket => ((Socket)socket!).Dispose(), _socket);
        while (total > 0)
        {
            int n = await _socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
            total -= n;
            while (n > 0 && segments.Count > 0)
            {
                var first = segments[0];
                if (n < first.Count)
                {
                    segments[0] = first.Slice(n);
                    break;
                }

                n -= first.Count;
                segments.RemoveAt(0);
            }
        }
    }

    /// <inheritdoc />
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        return default;
    }
}
