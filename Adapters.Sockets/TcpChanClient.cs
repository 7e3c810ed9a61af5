using System.Net;
using System.Net.Sockets;

namespace TcpChan;

/// <summary>Connects TcpChan sessions and protocols over TCP.</summary>
public static class TcpChanClient
{
    /// <summary>Connects to <paramref name="endPoint"/> and handshakes; returns the established session.</summary>
    /// <exception cref="SocketException">The server could not be reached.</exception>
    /// <exception cref="TcpChanSessionException">The handshake failed.</exception>
    public static async Task<TcpChanSession> ConnectAsync(EndPoint endPoint, TcpChanSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var socket = await ConnectSocketAsync(endPoint, cancellationToken).ConfigureAwait(false);
        return await TcpChanSession.ConnectAsync(new SocketTransport(socket), options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> and handshakes.</summary>
    public static Task<TcpChanSession> ConnectAsync(string host, int port, TcpChanSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(new DnsEndPoint(host, port), options, cancellationToken);

    /// <summary>Connects to <paramref name="endPoint"/> and runs <paramref name="protocol"/> until the connection ends.</summary>
    public static async Task RunAsync(EndPoint endPoint, TcpChanClientProtocol protocol, CancellationToken cancellationToken = default)
    {
        var socket = await ConnectSocketAsync(endPoint, cancellationToken).ConfigureAwait(false);
        await protocol.RunAsync(new SocketTransport(socket), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Socket> ConnectSocketAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
