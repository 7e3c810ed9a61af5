using System.Net;
using System.Net.Sockets;

namespace TcpChan.Bench.EndToEnd;

/// <summary>One TCP connection over 127.0.0.1 with <c>NoDelay</c> on both ends: what the rows that carry a whole run over one connection start from.</summary>
internal static class LoopbackSockets
{
    /// <summary>Connects a client socket to a listener of its own and returns both ends; the listener is closed once it has accepted.</summary>
    public static async Task<(Socket Client, Socket Server)> ConnectAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var accept = listener.AcceptAsync(cancellationToken).AsTask();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await client.ConnectAsync(listener.LocalEndPoint!, cancellationToken).ConfigureAwait(false);
            var server = await accept.ConfigureAwait(false);
            server.NoDelay = true;
            return (client, server);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
