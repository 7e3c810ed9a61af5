using System.Diagnostics;
using TcpChan.Core;
using Xunit;
using Xunit.Abstractions;

namespace TcpChan.Tests.Adapters;

/// <summary>A reader that stops reading stops its writer: memory stays within the budget, and nothing is lost.</summary>
public class BackpressureTests
{
    private const long Total = 100L * 1024 * 1024;
    private const int Chunk = 64 * 1024;
    private readonly ITestOutputHelper _output;

    public BackpressureTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task A_reader_that_does_not_read_blocks_the_writer_until_it_reads_again()
    {
        var serverOptions = new TcpChanSessionOptions { Connection = new ConnectionOptions { SessionReceiveBudget = 8 * 1024 * 1024 } };
        var clientOptions = new TcpChanSessionOptions { MaxUnsentBytes = 1024 * 1024 };
        await using var pair = await Loopback.PairAsync(clientOptions, serverOptions);
        long budget = serverOptions.Connection.SessionReceiveBudget;
        long window = serverOptions.Connection.InitialChannelWindow;

        // The writer counts what its WriteAsync calls have taken.
        long accepted = 0;
        var writer = await pair.Client.OpenChannelAsync("100 MB");
        var writing = Task.Run(async () =>
        {
            var hash = await CountingWriteAsync(writer, n => Interlocked.Add(ref accepted, n));
            writer.CompleteWrites();
            return hash;
        });

        var reader = await pair.Server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);

        // Nothing reads: the channel's window fills, and there the writer stops.
        await Loopback.UntilAsync(() => Buffered(pair.Server) >= window, "the receiver held a window's worth");
        long limit = window + clientOptions.MaxUnsentBytes + Chunk;
        for (int i = 0; i < 20; i++)
        {
            // Observed over a while (not a synchronization: the writer must stay stopped throughout).
            await Task.Delay(10);
            Assert.False(writing.IsCompleted);
            Assert.InRange(Interlocked.Read(ref accepted), 0, limit);
            Assert.InRange(Buffered(pair.Server), 0, budget);
        }

        _output.WriteLine($"stopped after {Interlocked.Read(ref accepted) / 1024} KiB written, {Buffered(pair.Server) / 1024} KiB held by the receiver");

        // Reading resumes: everything arrives, intact, and the receiver never held more than its budget.
        var watch = Stopwatch.StartNew();
        long peak = 0;
        var reading = Task.Run(async () =>
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var buffer = new byte[Chunk];
            long total = 0;
            int n;
            while ((n = await reader.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
                peak = Math.Max(peak, Buffered(pair.Server));
            }

            return (hash.GetHashAndReset(), total);
        });

        var (received, length) = await reading.WaitAsync(Loopback.Timeout);
        var sent = await writing.WaitAsync(Loopback.Timeout);
        _output.WriteLine($"100 MB in {watch.Elapsed.TotalSeconds:F2} s; receiver held at most {peak / 1024} KiB");
        Assert.Equal(Total, length);
        Assert.Equal(sent, received);
        Assert.InRange(peak, 0, budget);
    }

    private static async Task<byte[]> CountingWriteAsync(Stream stream, Action<int> wrote)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var random = new Random(100);
        var chunk = new byte[Chunk];
        for (long left = Total; left > 0; left -= Chunk)
        {
            random.NextBytes(chunk);
            hash.AppendData(chunk);
            await stream.WriteAsync(chunk);
            wrote(Chunk);
        }

        return hash.GetHashAndReset();
    }

    private static long Buffered(TcpChanSession session)
    {
        lock (session.Core.Gate)
        {
            return session.Core.Connection.BufferedBytes;
        }
    }
}
