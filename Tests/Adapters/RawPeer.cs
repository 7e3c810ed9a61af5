using System.Net.Sockets;
using TcpChan.Core;
using TcpChan.Core.Frames;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// A hand-made version-1 server on a plain socket: it answers the handshake with frames built
/// by Core's <see cref="FrameWriter"/>, then only reads (and counts) what arrives: it gives no
/// credit, answers no ping and opens nothing. <see cref="Reset"/> kills the connection abruptly.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Task _reading;
    private long _received;

    private RawPeer(Socket socket, bool read)
    {
        _socket = socket;
        _reading = read ? Task.Run(ReadForeverAsync) : Task.CompletedTask;
    }

    /// <summary>Bytes received after the handshake request.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Listens on loopback, connects a client session to itself, handshakes, and returns both.</summary>
    /// <param name="options">The client session's options.</param>
    /// <param name="read">False: the peer never reads after the handshake, so the client's sends stop once the socket buffers are full.</param>
    /// <param name="settings">The peer's version-1 settings (absent ones take their defaults).</param>
    public static async Task<(RawPeer Peer, TcpChanSession Client)> ConnectAsync(TcpChanSessionOptions? options = null, bool read = true, params KeyValuePair<byte, uint>[] settings)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(Loopback.AnyPort);
        listener.Listen(1);
        var connecting = TcpChanClient.ConnectAsync(listener.LocalEndPoint!, options);
        var socket = await listener.AcceptAsync().WaitAsync(Loopback.Timeout);

        var request = new byte[FrameWriter.ShortFrameLength];
        await using (var stream = new NetworkStream(socket, ownsSocket: false))
        {
            await stream.ReadExactlyAsync(request).AsTask().WaitAsync(Loopback.Timeout);
        }

        Assert.Equal(new byte[] { 1, 1, 0xFE, 0xED, 0xBA, 0xCC }, request);

        var reply = new byte[FrameWriter.ShortFrameLength + FrameWriter.SettingsFrameLength(settings.Length)];
        int n = FrameWriter.WriteHandshakeReply(reply, version: 1, ConnectionOptions.DefaultHandshakeMagic);
        FrameWriter.WriteSettings(reply.AsSpan(n), version: 1, settings);
        await socket.SendAsync(reply.AsMemory()).AsTask().WaitAsync(Loopback.Timeout);

        var client = await connecting.WaitAsync(Loopback.Timeout);
        return (new RawPeer(socket, read), client);
    }

    /// <summary>Sends raw bytes to the client.</summary>
    public Task SendAsync(byte[] data) => _socket.SendAsync(data.AsMemory()).AsTask().WaitAsync(Loopback.Timeout);

    /// <summary>Resets the connection: linger 0 and close, so the peer gets a RST, not a FIN.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await _reading.WaitAsync(Loopback.Timeout);
    }

    private async Task ReadForeverAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await _socket.ReceiveAsync(buffer.AsMemory())) > 0)
            {
                Interlocked.Add(ref _received, n);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }
}
