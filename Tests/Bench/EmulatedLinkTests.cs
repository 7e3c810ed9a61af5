using System.Diagnostics;
using TcpChan.Bench.Link;
using Xunit;

namespace TcpChan.Tests.Bench;

/// <summary>
/// The benchmarks' emulated link (Bench/Link): order, integrity, never early, never faster than
/// its rate, bounded buffer and window. Timing is checked only from the link's own schedule (its
/// trace) or as lower bounds, which a slow machine cannot break.
/// </summary>
public class EmulatedLinkTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static LinkOptions Small(bool trace = true) => new()
    {
        OneWayDelay = TimeSpan.FromMilliseconds(2),
        BitsPerSecond = 200e6,
        SegmentBytes = 4096,
        Trace = trace,
    };

    private static async Task<(LinkStream Client, LinkStream Server)> ConnectAsync(EmulatedLink link)
    {
        var accept = link.AcceptAsync().AsTask();
        var client = await link.ConnectAsync().WaitAsync(Timeout);
        return (client, await accept.WaitAsync(Timeout));
    }

    private static async Task<byte[]> ReadToEndAsync(Stream s, int chunk = 8192)
    {
        var all = new MemoryStream();
        var buf = new byte[chunk];
        int n;
        while ((n = await s.ReadAsync(buf).AsTask().WaitAsync(Timeout)) > 0)
        {
            all.Write(buf, 0, n);
        }

        return all.ToArray();
    }

    private static byte[] Random(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task Connect_costs_a_round_trip_and_the_server_accepts_behind_it()
    {
        var options = Small() with { OneWayDelay = TimeSpan.FromMilliseconds(10) };
        await using var link = new EmulatedLink(options);
        var accept = link.AcceptAsync().AsTask();
        long t0 = Stopwatch.GetTimestamp();
        await using var client = await link.ConnectAsync().WaitAsync(Timeout);
        var connected = Stopwatch.GetElapsedTime(t0);
        await using var server = await accept.WaitAsync(Timeout);
        var accepted = Stopwatch.GetElapsedTime(t0);

        // SYN there and SYN-ACK back before the client may send; the ACK after that.
        Assert.True(connected >= options.Rtt, $"connected after {connected}");
        Assert.True(accepted >= options.Rtt + options.OneWayDelay, $"accepted after {accepted}");
    }

    [Fact]
    public async Task Bytes_arrive_in_order_and_intact_on_every_connection()
    {
        await using var link = new EmulatedLink(Small(trace: false));
        var pairs = new List<(LinkStream Client, LinkStream Server)>();
        for (int i = 0; i < 3; i++)
        {
            pairs.Add(await ConnectAsync(link));
        }

        var payloads = pairs.Select((_, i) => Random(i, 100_000 + (i * 7919))).ToArray();
        var writes = pairs.Select((p, i) => Task.Run(async () =>
        {
            var rng = new Random(100 + i);
            for (int off = 0; off < payloads[i].Length;)
            {
                int n = Math.Min(rng.Next(1, 20_000), payloads[i].Length - off);
                await p.Client.WriteAsync(payloads[i].AsMemory(off, n));
                off += n;
            }

            await p.Client.DisposeAsync(); // FIN after the data
        })).ToArray();
        var reads = pairs.Select(p => ReadToEndAsync(p.Server, 3000)).ToArray();

        await Task.WhenAll(writes).WaitAsync(Timeout);
        var got = await Task.WhenAll(reads).WaitAsync(Timeout);
        for (int i = 0; i < pairs.Count; i++)
        {
            Assert.Equal(payloads[i], got[i]);
        }
    }

    [Fact]
    public async Task Nothing_arrives_before_its_delay_after_its_last_byte_left()
    {
        var options = Small();
        await using var link = new EmulatedLink(options);
        var (client, server) = await ConnectAsync(link);
        var payload = Random(1, 100_000);
        var buf = new byte[payload.Length];

        // Seen from outside: a byte is readable no sooner than one delay plus its serialization.
        long t0 = Stopwatch.GetTimestamp();
        await client.WriteAsync(payload.AsMemory(0, 1000)).AsTask().WaitAsync(Timeout);
        await server.ReadExactlyAsync(buf.AsMemory(0, 1000)).AsTask().WaitAsync(Timeout);
        long elapsed = Stopwatch.GetTimestamp() - t0;
        Assert.True(elapsed >= options.DelayTicks + options.SerializationTicks(1000), $"{elapsed} ticks");

        await client.WriteAsync(payload.AsMemory(1000)).AsTask().WaitAsync(Timeout);
        await server.ReadExactlyAsync(buf.AsMemory(1000)).AsTask().WaitAsync(Timeout);
        Assert.Equal(payload, buf);

        var trace = link.Up.Trace();
        Assert.Equal(payload.Length, trace.Sum(r => r.Bytes));
        foreach (var r in trace)
        {
            Assert.True(r.Start >= r.Admitted);
            Assert.Equal(options.SerializationTicks(r.Bytes), r.End - r.Start);
            Assert.Equal(options.DelayTicks, r.Due - r.End);
            Assert.True(r.Delivered >= r.Due, $"delivered {r.Due - r.Delivered} ticks early");
            Assert.True(r.Bytes <= options.EffectiveSegmentBytes);
        }
    }

    [Fact]
    public async Task The_bottleneck_never_carries_more_than_its_rate()
    {
        // Two connections share one bottleneck; 1.2 MB at 200 Mbit/s is about 48 ms of link time.
        var options = Small();
        await using var link = new EmulatedLink(options);
        var a = await ConnectAsync(link);
        var b = await ConnectAsync(link);
        var payload = Random(2, 600_000);
        var reads = new[] { ReadToEndAsync(a.Server), ReadToEndAsync(b.Server) };
        await Task.WhenAll(
            Task.Run(async () => { await a.Client.WriteAsync(payload); await a.Client.DisposeAsync(); }),
            Task.Run(async () => { await b.Client.WriteAsync(payload); await b.Client.DisposeAsync(); })).WaitAsync(Timeout);
        await Task.WhenAll(reads).WaitAsync(Timeout);

        var trace = link.Up.Trace();
        Assert.Equal(2 * payload.Length, trace.Sum(r => r.Bytes));
        for (int i = 1; i < trace.Count; i++)
        {
            Assert.True(trace[i].Start >= trace[i - 1].End, $"segment {i} overlaps the one before");
            Assert.True(trace[i].Due >= trace[i - 1].Due, $"segment {i} is due before the one before");
        }

        // Over any stretch of the schedule, the bytes that left fit in the time at the rate.
        var rng = new Random(3);
        for (int k = 0; k < 1000; k++)
        {
            int i = rng.Next(trace.Count), j = rng.Next(i, trace.Count);
            long bytes = trace.Skip(i).Take(j - i + 1).Sum(r => (long)r.Bytes);
            double seconds = (double)(trace[j].End - trace[i].Start) / Stopwatch.Frequency;
            Assert.True(bytes * 8 <= (options.BitsPerSecond * seconds) + 8, $"{bytes} B in {seconds} s");
        }
    }

    [Fact]
    public async Task Writers_wait_while_the_bottleneck_buffer_is_full()
    {
        var options = Small() with { BufferBytes = 32 * 1024 };
        await using var link = new EmulatedLink(options);
        var (client, server) = await ConnectAsync(link);
        var payload = Random(4, 400_000);
        var read = ReadToEndAsync(server);
        await client.WriteAsync(payload).AsTask().WaitAsync(Timeout);
        await client.DisposeAsync();
        Assert.Equal(payload, await read.WaitAsync(Timeout));

        // At each admission, what the bottleneck still had to serialize was below its buffer
        // (pieces of one admitted write follow the first without a check of their own).
        var trace = link.Up.Trace();
        long bufferTicks = options.SerializationTicks(options.EffectiveBufferBytes);
        for (int i = 1; i < trace.Count; i++)
        {
            if (trace[i].Admitted != trace[i - 1].Admitted)
            {
                Assert.True(trace[i - 1].End - trace[i].Admitted < bufferTicks, $"segment {i} admitted over a full buffer");
            }
        }
    }

    [Fact]
    public async Task The_receive_window_bounds_what_a_slow_reader_holds()
    {
        var options = Small(trace: false) with { ReceiveWindowBytes = 20_000 };
        await using var link = new EmulatedLink(options);
        var (client, server) = await ConnectAsync(link);
        var payload = Random(5, 300_000);
        var write = Task.Run(async () => { await client.WriteAsync(payload); await client.DisposeAsync(); });
        var got = new MemoryStream();
        var buf = new byte[1000];
        int n;
        while ((n = await server.ReadAsync(buf).AsTask().WaitAsync(Timeout)) > 0)
        {
            got.Write(buf, 0, n);
            await Task.Yield();
        }

        await write.WaitAsync(Timeout);
        Assert.Equal(payload, got.ToArray());
        Assert.InRange(server.MaxUnread, 1, 20_000);
    }

    [Fact]
    public async Task Both_directions_carry_data_and_close_independently()
    {
        await using var link = new EmulatedLink(Small(trace: false));
        var (client, server) = await ConnectAsync(link);
        await client.WriteAsync(new byte[] { 1, 2, 3 }).AsTask().WaitAsync(Timeout);
        await client.DisposeAsync();
        Assert.Equal(new byte[] { 1, 2, 3 }, await ReadToEndAsync(server));

        // The server can still answer a client that closed: the bytes are dropped on arrival,
        // and the writer is not held by a window nobody reads.
        await server.WriteAsync(new byte[200_000]).AsTask().WaitAsync(Timeout);
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Disposing_the_link_fails_pending_reads_and_later_writes()
    {
        var link = new EmulatedLink(Small(trace: false));
        var (client, server) = await ConnectAsync(link);
        var read = server.ReadAsync(new byte[10]).AsTask();
        await link.DisposeAsync();
        await Assert.ThrowsAsync<IOException>(() => read.WaitAsync(Timeout));
        await Assert.ThrowsAsync<IOException>(() => client.WriteAsync(new byte[10]).AsTask().WaitAsync(Timeout));
        await Assert.ThrowsAsync<IOException>(() => link.AcceptAsync().AsTask().WaitAsync(Timeout));
    }
}
