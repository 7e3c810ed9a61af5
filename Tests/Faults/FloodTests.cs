using System.Diagnostics;
using TcpChan.Core;
using TcpChan.Tests.Adapters;
using Xunit;
using Xunit.Abstractions;

namespace TcpChan.Tests.Faults;

/// <summary>A peer that writes far more than the application reads: memory stays in the budget, no byte is lost.</summary>
public class FloodTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_gibibyte_on_one_channel_read_slowly_stays_within_the_budget_and_loses_nothing()
    {
        const long total = 1L << 30;
        const int budget = 8 * 1024 * 1024;
        var server = new TcpChanSessionOptions { Connection = new ConnectionOptions { SessionReceiveBudget = budget } };
        await using var pair = await Loopback.PairAsync(server: server);
        var writer = await pair.Client.OpenChannelAsync();
        var accepting = pair.Server.AcceptChannelAsync().AsTask();

        // The writer: 1 GiB of a counting pattern, as fast as it may.
        var writing = Task.Run(async () =>
        {
            var chunk = new byte[256 * 1024];
            for (long sent = 0; sent < total; sent += chunk.Length)
            {
                Fill(chunk, sent);
                await writer.WriteAsync(chunk);
            }

            writer.CompleteWrites();
        });

        // The reader: small reads that check every byte, and the receiving side's buffered
        // bytes (the core's account of what it holds for the application) sampled as it goes.
        var reader = await accepting.WaitAsync(Loopback.Timeout);
        var buffer = new byte[4096];
        long received = 0;
        long peakBuffered = 0;
        long reads = 0;
        var clock = Stopwatch.StartNew();
        int n;
        while ((n = await reader.ReadAsync(buffer).AsTask().WaitAsync(Loopback.Timeout)) > 0)
        {
            Check(buffer.AsSpan(0, n), received);
            received += n;
            if (++reads % 64 == 0)
            {
                lock (pair.Server.Core.Gate)
                {
                    peakBuffered = Math.Max(peakBuffered, pair.Server.Core.Connection.BufferedBytes);
                }
            }
        }

        await writing.WaitAsync(Loopback.Timeout);
        output.WriteLine($"1 GiB in {clock.Elapsed.TotalSeconds:F1} s; peak bytes held for the reader {peakBuffered:N0} (budget {budget:N0}); process peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
        Assert.Equal(total, received);
        Assert.InRange(peakBuffered, 1, budget);
    }

    private static void Fill(Span<byte> chunk, long offset)
    {
        for (int i = 0; i < chunk.Length; i++)
        {
            chunk[i] = (byte)((offset + i) * 31 >> 3);
        }
    }

    private static void Check(ReadOnlySpan<byte> data, long offset)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (data[i] != (byte)((offset + i) * 31 >> 3))
            {
                Assert.Fail($"byte {offset + i} differs");
            }
        }
    }
}
