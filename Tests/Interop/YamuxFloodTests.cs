using TcpChan.Core;
using TcpChan.Tests.Faults;
using Xunit;
using Xunit.Abstractions;
using static TcpChan.Tests.Interop.OurYamux;

namespace TcpChan.Tests.Interop;

/// <summary>
/// A Go peer writes 64 MiB on one stream to our reader, which reads slowly: Go's writes wait on
/// the window this side grants, so what this side holds stays within the stream's window and
/// the process's live memory grows far less than 64 MiB. Alone in its collection, so that the
/// memory measured is this test's.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class YamuxFloodTests(ITestOutputHelper output)
{
    private const long Total = 64L << 20;
    private const int Budget = 1 << 20;
    private const uint Key = 105;

    [GoYamuxTheory]
    [InlineData(GoRole.Client)]
    [InlineData(GoRole.Server)]
    public async Task A_Go_peer_writing_64_MiB_to_a_slow_reader_is_held_to_the_window(GoRole go)
    {
        // Go writes as the opener when it is the client, as the acceptor when it is the server.
        bool goOpens = go == GoRole.Client;
        long peakBuffered = 0;
        long peakWindow = 0;
        long peakGrowth = 0;
        var result = await RunAsync(go, "flood", goOpens, ["-bytes", $"{Total}", "-flood-writer", goOpens ? "active" : "passive"], async (session, _) =>
        {
            await using var stream = goOpens ? await session.AcceptChannelAsync() : await session.OpenChannelAsync();
            long baseline = GC.GetTotalMemory(forceFullCollection: true);
            long read = 0;
            await ReadPatternAsync(stream, Key, Total, async n =>
            {
                read += n;
                lock (session.Core.Gate)
                {
                    var connection = session.Core.Connection;
                    peakBuffered = Math.Max(peakBuffered, connection.BufferedBytes);
                    peakWindow = Math.Max(peakWindow, connection.GetChannel(stream.ChannelId)?.ReceiveWindowSize ?? 0);
                }

                if (read % (16 << 20) < n)
                {
                    // Every 16 MiB: what is live now, with Go still writing.
                    peakGrowth = Math.Max(peakGrowth, GC.GetTotalMemory(forceFullCollection: true) - baseline);
                }

                // The slow reader: a pause per read, as Go's own slow reader sleeps. Only pace:
                // nothing waits on it, and what is asserted holds at any speed.
                await Task.Delay(1);
            });
            await stream.WriteAsync("K"u8.ToArray());
            await ExpectEndAsync(stream);
            stream.CompleteWrites();
            if (goOpens)
            {
                await PeerEndsAsync(session);
            }
        }, Options(o => o.SessionReceiveBudget = Budget));

        output.WriteLine($"peak held for the reader {peakBuffered:N0} B, peak window {peakWindow:N0} B, peak live-memory growth {peakGrowth:N0} B");
        Assert.Equal($"{Total}", result["bytes"]);
        Assert.InRange(peakBuffered, 1, peakWindow);
        Assert.InRange(peakWindow, 256 * 1024, (256 * 1024) + Budget);
        Assert.InRange(peakGrowth, long.MinValue, 16 << 20);
    }
}
