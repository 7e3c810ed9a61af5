using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace TcpChan.Tests.Cli;

/// <summary>
/// A TCP server that reads everything a connection sends until the sender ends its side
/// (half-close), then answers with the SHA-256 of what it read followed by
/// <see cref="ReplySize"/> deterministic bytes, and closes. Counts the connections it accepted.
/// </summary>
internal sealed class HashingTarget : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _accepted;

    public HashingTarget(long replySize)
    {
        ReplySize = replySize;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    public long ReplySize { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public string HostPort => $"127.0.0.1:{Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                _ = ServeAsync(socket);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[64 * 1024];
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                }

                await SendAllAsync(socket, hash.GetHashAndReset());
                foreach (var block in Data.Blocks(ReplySize, seed: 2))
                {
                    await SendAllAsync(socket, block);
                }

                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[await socket.SendAsync(data, SocketFlags.None, _stop.Token)..];
        }
    }
}
