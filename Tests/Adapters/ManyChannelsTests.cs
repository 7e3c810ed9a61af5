using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace TcpChan.Tests.Adapters;

/// <summary>Many channels at once on one session, each carrying data both ways, all checked.</summary>
public class ManyChannelsTests
{
    private const int Channels = 1000;
    private const int MaxSize = 4 * 1024 * 1024;
    private readonly ITestOutputHelper _output;

    public ManyChannelsTests(ITestOutputHelper output) => _output = output;

    /// <summary>Log-uniform on [0, 4 MiB]: mostly small, a few large; about 280 KB on average.</summary>
    internal static int[] Sizes(int seed, int count)
    {
        var random = new Random(seed);
        var sizes = new int[count];
        for (int i = 0; i < count; i++)
        {
            sizes[i] = (int)Math.Min(MaxSize, Math.Exp(random.NextDouble() * Math.Log(MaxSize + 1.0)) - 1);
        }

        return sizes;
    }

    [Fact]
    public async Task A_thousand_channels_carry_random_sizes_both_ways_intact()
    {
        var clientSizes = Sizes(seed: 1, Channels);
        var serverSizes = Sizes(seed: 2, Channels);
        _output.WriteLine($"{(clientSizes.Sum(s => (long)s) + serverSizes.Sum(s => (long)s)) / 1e6:F0} MB in all, largest {clientSizes.Concat(serverSizes).Max() / 1e6:F1} MB");
        await using var pair = await Loopback.PairAsync();
        var watch = Stopwatch.StartNew();

        // key: (channel, direction); 0 = client to server, 1 = server to client.
        var written = new ConcurrentDictionary<(int, int), byte[]>();
        var read = new ConcurrentDictionary<(int, int), (byte[] Hash, long Length)>();

        var server = Task.Run(async () =>
        {
            var work = new List<Task>();
            for (int n = 0; n < Channels; n++)
            {
                var stream = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
                int i = int.Parse(stream.Label!);
                work.Add(Task.Run(() => TransferAsync(stream, i, direction: 1, serverSizes[i], written, read)));
            }

            await Task.WhenAll(work);
        });

        var streams = new List<TcpChanStream>();
        for (int i = 0; i < Channels; i++)
        {
            streams.Add(await pair.Client.OpenChannelAsync(i.ToString()).WaitAsync(Loopback.Timeout));
        }

        var client = streams.Select((stream, i) => Task.Run(() => TransferAsync(stream, i, direction: 0, clientSizes[i], written, read))).ToList();
        await Task.WhenAll(client).WaitAsync(Loopback.Timeout);
        await server.WaitAsync(Loopback.Timeout);
        _output.WriteLine($"transfer: {watch.Elapsed.TotalSeconds:F1} s");

        for (int i = 0; i < Channels; i++)
        {
            Assert.Equal(written[(i, 0)], read[(i, 0)].Hash);
            Assert.Equal(clientSizes[i], read[(i, 0)].Length);
            Assert.Equal(written[(i, 1)], read[(i, 1)].Hash);
            Assert.Equal(serverSizes[i], read[(i, 1)].Length);
        }

        await Loopback.UntilAsync(() => pair.Client.OpenChannelCount == 0 && pair.Server.OpenChannelCount == 0, "every channel closed on both sides");
        Assert.Null(pair.Client.EndError);
        Assert.Null(pair.Server.EndError);
    }

    /// <summary>Writes this side's payload and reads the other's at the same time; records both hashes.</summary>
    private static async Task TransferAsync(
        TcpChanStream stream, int i, int direction, int size,
        ConcurrentDictionary<(int, int), byte[]> written,
        ConcurrentDictionary<(int, int), (byte[] Hash, long Length)> read)
    {
        await using (stream)
        {
            var writing = Task.Run(async () =>
            {
                written[(i, direction)] = await Loopback.WriteSeededAsync(stream, seed: (i * 2) + direction, size);
                stream.CompleteWrites();
            });
            read[(i, 1 - direction)] = await Loopback.HashToEndAsync(stream);
            await writing;
        }
    }
}
