using System.Net;
using System.Net.Sockets;

namespace TcpChan.Cli;

/// <summary>Socket helpers: connect with a timeout, listen with a clear error.</summary>
internal static class Net
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Connects to <paramref name="target"/>; throws <see cref="SocketException"/> or <see cref="TimeoutException"/>.</summary>
    public static async Task<Socket> ConnectAsync(HostPort target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var endPoint = target.ToEndPoint();
        var socket = endPoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endPoint, limit.Token).ConfigureAwait(false);
            socket.NoDelay = true;
            return socket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"No answer within {timeout.TotalSeconds:F0} s.");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Listens on <paramref name="endPoint"/>; an address in use is <see cref="ExitCodes.PortInUse"/>.</summary>
    public static Socket Listen(IPEndPoint endPoint, string what, int backlog = 512)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            string why = ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the port is in use",
                SocketError.AccessDenied => "permission denied",
                SocketError.AddressNotAvailable => "no such local address",
                _ => ex.Message,
            };
            throw new CliException(ExitCodes.PortInUse, $"Cannot listen on {HostPort.Format(endPoint)} ({what}): {why}.", ex);
        }
    }

    /// <summary>An address to bind: an IP address, or <c>localhost</c> (127.0.0.1).</summary>
    public static IPEndPoint BindEndPoint(string host, int port, string what)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        if (!IPAddress.TryParse(host, out var address))
        {
            throw new CliException(ExitCodes.Usage, $"{what}: '{host}' is not an IP address to listen on (use 127.0.0.1, 0.0.0.0, ::1 or localhost).");
        }

        return new IPEndPoint(address, port);
    }

    /// <summary>Words for why a connect failed.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } => "host name not found",
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable } => "no route to host",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "timed out",
        TimeoutException => "timed out",
        _ => ex.Message,
    };

    /// <summary>A socket's remote end, for log lines.</summary>
    public static string Peer(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint is IPEndPoint ip ? HostPort.Format(ip) : socket.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return "?";
        }
    }
}
