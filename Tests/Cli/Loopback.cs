using System.Net;
using System.Net.Sockets;

namespace TcpChan.Tests.Cli;

/// <summary>Loopback sockets for tests.</summary>
internal static class Loopback
{
    /// <summary>A port that was free a moment ago (bound to 0 and released).</summary>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A bound socket that does not listen: connections to its port are refused, and no one else can take the port while it is held.</summary>
    public static Socket ClosedPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    public static int Port(this Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(CliProcess.Timeout);
        return socket;
    }

    /// <summary>
    /// Connects, sends <paramref name="data"/>, and reads until the peer ends or resets the
    /// connection. A connection refused at once may be reset before the connect is even seen
    /// to complete, or while sending: that counts as a reset too.
    /// </summary>
    public static async Task<(int Bytes, bool Reset)> ExchangeAsync(int port, byte[] data)
    {
        try
        {
            using var socket = await ConnectAsync(port);
            if (data.Length > 0)
            {
                await socket.SendAsync(data, SocketFlags.None).WaitAsync(CliProcess.Timeout);
            }

            return await ReadToEndAsync(socket);
        }
        catch (SocketException)
        {
            return (0, true);
        }
    }

    /// <summary>Reads until the peer ends or resets the connection; returns the bytes read, and whether it was a reset.</summary>
    public static async Task<(int Bytes, bool Reset)> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        int total = 0;
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(CliProcess.Timeout)) > 0)
            {
                total += n;
            }

            return (total, false);
        }
        catch (SocketException)
        {
            return (total, true);
        }
    }
}
