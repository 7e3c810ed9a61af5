using System.Net;
using System.Net.Sockets;
using TcpChan.Core;

namespace TcpChan.Examples.Echo;

/// <summary>
/// Echoes every channel's data back on the same channel, for any number of clients at
/// once: one <see cref="ServerConnection"/> and one <see cref="SocketDriver"/> per client.
/// </summary>
public sealed class EchoServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly TextWriter _log;

    /// <summary>Starts listening (port 0 picks a free port; see <see cref="Port"/>).</summary>
    public EchoServer(IPAddress address, int port, TextWriter? log = null)
    {
        _listener = new TcpListener(address, port);
        _listener.Start();
        _log = log ?? TextWriter.Null;
    }

    /// <summary>The port the server listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Accepts and serves clients until <paramref name="cancellationToken"/> fires, then waits for them to end.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clients = new List<Task>();
        try
        {
            while (true)
            {
                var tcp = await _listener.AcceptTcpClientAsync(cancellationToken);
                clients.RemoveAll(t => t.IsCompleted);
                clients.Add(ServeAsync(tcp, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _listener.Stop();
            await Task.WhenAll(clients);
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Stop();

    private async Task ServeAsync(TcpClient tcp, CancellationToken cancellationToken)
    {
        string peer = tcp.Client.RemoteEndPoint?.ToString() ?? "?";
        try
        {
            using (tcp)
            {
                tcp.NoDelay = true;
                var driver = new SocketDriver(tcp, new ServerConnection(() => new EchoChannel()), _ => { });
                Log($"{peer}: connected");
                await driver.RunAsync(cancellationToken);
                Log($"{peer}: {driver.EndReason}");
            }
        }
        catch (Exception ex)
        {
            // One client's trouble must not stop the server.
            Log($"{peer}: failed: {ex}");
        }
    }

    private void Log(string line)
    {
        lock (_log)
        {
            _log.WriteLine(line);
        }
    }

    private sealed class EchoChannel : Channel
    {
        // Runs inside DataReceived of the connection, under the driver's lock: the write only
        // queues frames, which the driver sends after this read's events are drained.
        protected override void DataReceived(ReadOnlySpan<byte> data) => Write(data);
    }
}
