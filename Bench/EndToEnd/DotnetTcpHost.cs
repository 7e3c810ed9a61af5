using System.Net;
using System.Net.Sockets;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// The baseline, as the peers' dotnet-tcp: .NET <see cref="Socket"/> + <see cref="NetworkStream"/>,
/// one TCP connection per stream, <c>NoDelay</c> on both ends.
/// </summary>
internal sealed class DotnetTcpHost : IStreamHost
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _accepted = new();
    private IPEndPoint? _endPoint;
    private volatile bool _disposed;

    public Task StartAsync(Func<Stream, Task> handler, CancellationToken cancellationToken)
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        _endPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var c = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                    c.NoDelay = true;
                    lock (_accepted)
                    {
                        _accepted.Add(c);
                    }

                    _ = Task.Run(() => handler(new NetworkStream(c, ownsSocket: true)), CancellationToken.None);
                }
            }
            catch (Exception ex)
            {
                if (!_disposed && !cancellationToken.IsCancellationRequested)
                {
                    Console.Error.WriteLine($"dotnet-tcp: accept failed: {ex.Message}");
                }
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task<Stream> OpenAsync(CancellationToken cancellationToken)
    {
        var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await c.ConnectAsync(_endPoint!, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(c, ownsSocket: true);
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        _listener.Dispose();
        lock (_accepted)
        {
            // Server ends of streams a timed-out run left open.
            foreach (var s in _accepted)
            {
                s.Dispose();
            }

            _accepted.Clear();
        }

        return default;
    }
}
