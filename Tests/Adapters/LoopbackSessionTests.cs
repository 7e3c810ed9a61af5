using System.Net;
using System.Security.Cryptography;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Adapters;

public class LoopbackSessionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    internal static async Task<(TcpChanListener Listener, TcpChanSession Client, TcpChanSession Server)> PairAsync(TcpChanSessionOptions? client = null, TcpChanSessionOptions? server = null)
    {
        var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0), server);
        var accept = listener.AcceptSessionAsync().AsTask();
        var c = await TcpChanClient.ConnectAsync(listener.LocalEndPoint, client).WaitAsync(Timeout);
        var s = await accept.WaitAsync(Timeout);
        return (listener, c, s);
    }

    internal static async Task EchoAllAsync(TcpChanSession session, CancellationToken token)
    {
        try
        {
            await foreach (var stream in session.AcceptChannelsAsync(token))
            {
                _ = Task.Run(async () =>
                {
                    await using (stream)
                    {
                        var buffer = new byte[32 * 1024];
                        int n;
                        while ((n = await stream.ReadAsync(buffer, token)) > 0)
                        {
                            await stream.WriteAsync(buffer.AsMemory(0, n), token);
                        }

                        stream.CompleteWrites();
                    }
                }, token);
            }
        }
        catch (Exception) when (token.IsCancellationRequested || session.EndError is not null)
        {
        }
    }

    [Fact]
    public async Task Channels_echo_over_loopback_with_version_1()
    {
        var (listener, client, server) = await PairAsync();
        await using var _ = listener;
        using var stop = new CancellationTokenSource();
        var echo = EchoAllAsync(server, stop.Token);
        Assert.Equal(1, client.Version);
        var data = RandomNumberGenerator.GetBytes(3_000_000);
        await using var stream = await client.OpenChannelAsync("echo");
        var reading = ReadAllAsync(stream);
        await stream.WriteAsync(data);
        stream.CompleteWrites();
        var back = await reading.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(back));
        await client.CloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Timeout);
        stop.Cancel();
        await server.Completion.WaitAsync(Timeout);
        Assert.Equal(SessionEndReason.Closed, client.EndError!.Reason);
    }

    internal static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }
}
