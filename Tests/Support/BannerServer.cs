using System.Net;
using System.Net.Sockets;

namespace TcpChan.Tests.Support;

/// <summary>
/// A TCP server on loopback that is not TcpChan: it runs <c>greet</c> on each connection (send a
/// banner, or nothing) and then holds the connection open, reading nothing.
/// </summary>
internal sealed class BannerServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly List<TcpClient> _clients = new();
    private readonly Task _accepting;

    private BannerServer(TcpListener listener, Func<NetworkStream, Task> greet)
    {
        _listener = listener;
        _accepting = AcceptAsync(greet);
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public static BannerServer Start(Func<NetworkStream, Task> greet)
    {
        var listener = new TcpListener(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Start();
        return new BannerServer(listener, greet);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting.WaitAsync(TimeSpan.FromSeconds(60));
        lock (_clients)
        {
            _clients.ForEach(c => c.Dispose());
        }
    }

    private async Task AcceptAsync(Func<NetworkStream, Task> greet)
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync();
                lock (_clients)
                {
                    _clients.Add(client);
                }

                await greet(client.GetStream());
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }
}
