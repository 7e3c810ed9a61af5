using System.Net;
using System.Security.Cryptography;
using TcpChan.Core;
using TcpChan.Tests.Adapters;
using Xunit;
using Xunit.Abstractions;

namespace TcpChan.Tests.Faults;

/// <summary>Many channels on one session and many sessions on one server, over real sockets.</summary>
[Collection(MemoryCollection.Name)]
public class ScaleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ten_thousand_concurrent_channels_on_one_session_carry_correct_data_in_bounded_memory()
    {
        const int channels = 10_000;
        var options = new TcpChanSessionOptions { AcceptBacklog = channels, Connection = new ConnectionOptions { MaxConcurrentChannels = channels } };
        await using var pair = await Loopback.PairAsync(options, options);
        var accepted = new List<TcpChanStream>(channels);
        var accepting = Task.Run(async () =>
        {
            for (int i = 0; i < channels; i++)
            {
                accepted.Add(await pair.Server.AcceptChannelAsync());
            }
        });

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var opened = new TcpChanStream[channels];
        for (int i = 0; i < channels; i++)
        {
            opened[i] = await pair.Client.OpenChannelAsync();
        }

        await accepting.WaitAsync(Loopback.Timeout);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        long perChannel = (after - before) / channels;
        output.WriteLine($"{channels} idle channels, both ends in this process: {perChannel} bytes of managed memory per channel (both ends together)");
        Assert.Equal(channels, pair.Client.OpenChannelCount);
        Assert.InRange(perChannel, 1, 16 * 1024);

        // Every channel carries its own bytes, all at once.
        var byId = accepted.ToDictionary(s => s.ChannelId);
        await Task.WhenAll(opened.Select(async stream =>
        {
            var payload = BitConverter.GetBytes(stream.ChannelId);
            await stream.WriteAsync(payload);
            stream.CompleteWrites();
            var far = byId[stream.ChannelId];
            var got = await Loopback.ReadAllAsync(far);
            Assert.Equal(payload, got);
            far.CompleteWrites();
            Assert.Empty(await Loopback.ReadAllAsync(stream));
        })).WaitAsync(Loopback.Timeout);

        await Loopback.UntilAsync(() => pair.Client.OpenChannelCount == 0 && pair.Server.OpenChannelCount == 0, "every channel completed");
        GC.KeepAlive(opened);
    }

    [Fact]
    public async Task Two_hundred_sessions_on_one_server_each_carry_correct_data()
    {
        const int sessions = 200;
        await using var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            var echoes = new List<Task>();
            try
            {
                await foreach (var session in listener.AcceptSessionsAsync(stop.Token))
                {
                    echoes.Add(Task.Run(async () =>
                    {
                        await using (session)
                        {
                            var channel = await session.AcceptChannelAsync(stop.Token);
                            await channel.CopyToAsync(channel, stop.Token);
                            channel.CompleteWrites();
                            await session.Completion.WaitAsync(stop.Token);
                        }
                    }));
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        var clients = await Task.WhenAll(Enumerable.Range(0, sessions).Select(_ => TcpChanClient.ConnectAsync(listener.LocalEndPoint))).WaitAsync(Loopback.Timeout);
        await Task.WhenAll(clients.Select(async (client, i) =>
        {
            var data = RandomNumberGenerator.GetBytes(50_000 + i);
            await using var stream = await client.OpenChannelAsync();
            var reading = Loopback.ReadAllAsync(stream);
            await stream.WriteAsync(data);
            stream.CompleteWrites();
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await reading));
        })).WaitAsync(Loopback.Timeout);

        foreach (var client in clients)
        {
            await client.CloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Loopback.Timeout);
        }

        stop.Cancel();
        await serving.WaitAsync(Loopback.Timeout);
    }
}
