using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace TcpChan.Tests.Adapters;

/// <summary>What the adapter tests share: a session pair over 127.0.0.1, bounded waits, stream helpers.</summary>
internal static class Loopback
{
    /// <summary>The bound on any single await in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The bound on "fails at once" and "within a bound" checks.</summary>
    public static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);

    public static IPEndPoint AnyPort => new(IPAddress.Loopback, 0);

    /// <summary>A listener on a free port and a client session connected to it, with the server's session.</summary>
    public static async Task<SessionPair> PairAsync(TcpChanSessionOptions? client = null, TcpChanSessionOptions? server = null)
    {
        var listener = TcpChanListener.Start(AnyPort, server);
        try
        {
            var accept = listener.AcceptSessionAsync().AsTask();
            var c = await TcpChanClient.ConnectAsync(listener.LocalEndPoint, client).WaitAsync(Timeout);
            var s = await accept.WaitAsync(Timeout);
            return new SessionPair(listener, c, s);
        }
        catch
        {
            await listener.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits, polling, until <paramref name="condition"/> holds; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Reads <paramref name="stream"/> to its end.</summary>
    public static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var data = new byte[count];
        await stream.ReadExactlyAsync(data).AsTask().WaitAsync(Timeout);
        return data;
    }

    /// <summary>Hashes everything read from <paramref name="stream"/> until its end.</summary>
    public static async Task<(byte[] Hash, long Length)> HashToEndAsync(Stream stream, int bufferSize = 64 * 1024)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[bufferSize];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (hash.GetHashAndReset(), total);
    }

    /// <summary>Writes <paramref name="length"/> pseudo-random bytes from <paramref name="seed"/> in chunks; returns their hash.</summary>
    public static async Task<byte[]> WriteSeededAsync(Stream stream, int seed, long length, int chunkSize = 64 * 1024)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var chunk = new byte[chunkSize];
        for (long left = length; left > 0;)
        {
            int n = (int)Math.Min(left, chunk.Length);
            random.NextBytes(chunk.AsSpan(0, n));
            hash.AppendData(chunk, 0, n);
            await stream.WriteAsync(chunk.AsMemory(0, n));
            left -= n;
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Echoes every channel the session accepts until it ends (version 1: half-close at the end).</summary>
    public static async Task EchoAllAsync(TcpChanSession session)
    {
        try
        {
            while (true)
            {
                var stream = await session.AcceptChannelAsync();
                _ = EchoAsync(stream);
            }
        }
        catch (TcpChanSessionException)
        {
        }
    }

    private static async Task EchoAsync(TcpChanStream stream)
    {
        try
        {
            await using (stream)
            {
                var buffer = new byte[32 * 1024];
                int n;
                while ((n = await stream.ReadAsync(buffer)) > 0)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, n));
                }

                stream.CompleteWrites();
            }
        }
        catch (TcpChanException)
        {
            // The channel or the session ended under the echo: the test that cares checks its side.
        }
    }

    /// <summary>A connected pair of plain TCP sockets over loopback (for raw peers).</summary>
    public static async Task<(Socket Client, Socket Server)> SocketPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(AnyPort);
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Timeout);
        var server = await accept.WaitAsync(Timeout);
        return (client, server);
    }
}

/// <summary>A client session, the server session it connected to, and the listener; disposes all three.</summary>
internal sealed record SessionPair(TcpChanListener Listener, TcpChanSession Client, TcpChanSession Server) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);
        await Server.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);
        await Listener.DisposeAsync().AsTask().WaitAsync(Loopback.Timeout);
    }
}
