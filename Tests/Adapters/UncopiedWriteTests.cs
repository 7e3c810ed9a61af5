using System.Security.Cryptography;
using TcpChan.Tests.Pipelines;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// Large writes without a cancellation token send their first frame from the caller's buffer
/// (a gathered send, no copy) and return only once the transport has it: a writer that
/// scribbles over its buffer as soon as a write returns must not change what the peer gets.
/// Over a socket (one sendmsg of the pieces) and a pipe (the pieces copied into it).
/// </summary>
public class UncopiedWriteTests
{
    [Theory]
    [InlineData("socket")]
    [InlineData("pipe")]
    public async Task A_buffer_reused_right_after_the_write_returns_does_not_change_what_was_sent(string transport)
    {
        TcpChanSession client;
        TcpChanSession server;
        IAsyncDisposable? pair = null;
        if (transport == "socket")
        {
            var sockets = await Loopback.PairAsync();
            (client, server, pair) = (sockets.Client, sockets.Server, sockets);
        }
        else
        {
            (client, server) = await PipeSessionTests.InMemoryPairAsync();
        }

        try
        {
            var writer = await client.OpenChannelAsync();
            var reader = await server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
            var reading = Loopback.ReadAllAsync(reader);

            using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[100_000];
            var random = new Random(42);
            for (int i = 0; i < 200; i++)
            {
                random.NextBytes(buffer);
                int length = 16 * 1024 + random.Next(buffer.Length - 16 * 1024);
                expected.AppendData(buffer, 0, length);
                await writer.WriteAsync(buffer.AsMemory(0, length)).AsTask().WaitAsync(Loopback.Timeout); // no token: uncopied
                Array.Fill(buffer, (byte)0xEE); // the caller reuses its buffer at once
            }

            writer.CompleteWrites();
            var received = await reading.WaitAsync(Loopback.Timeout);
            Assert.Equal(Convert.ToHexString(expected.GetHashAndReset()), Convert.ToHexString(SHA256.HashData(received)));
        }
        finally
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
            if (pair is not null)
            {
                await pair.DisposeAsync();
            }
        }
    }
}
