using System.Diagnostics;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// Both ends of a run over something that gives streams: the server calls a handler for each
/// stream it accepts, the client opens streams.
/// </summary>
internal interface IStreamHost : IAsyncDisposable
{
    /// <summary>Sets up listener and connection (if any); from then on every accepted stream runs <paramref name="handler"/>.</summary>
    Task StartAsync(Func<Stream, Task> handler, CancellationToken cancellationToken);

    /// <summary>Opens one stream from the client side.</summary>
    Task<Stream> OpenAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The peers' workloads over <see cref="Stream"/>s, exactly as the peers' .NET program runs them
/// (/work/shared/peers/dotnet/Program.cs, <c>TcpPeer</c> and <c>Mixed</c>): the same buffers,
/// writes, reads, checks and timers. Used by dotnet-tcp (one TCP connection per stream) and by
/// the TcpChan session peers (one channel per stream, one TCP connection in all), on loopback
/// and over the emulated link, where latency and long-bulk run too.
/// </summary>
internal static class StreamWorkloads
{
    public static async Task<Measurement> RunAsync(IStreamHost host, RunContext context)
    {
        var o = context.Options;
        var ct = context.Cancellation;
        var bulkDone = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        var longBulk = o.Workload == "long-bulk" ? new LongBulkWorkload(o, o.Link!, context.Log) : null;
        Func<Stream, Task> handler = o.Workload switch
        {
            "bulk" => s => BulkSink(s, o, bulkDone),
            "rpc" => s => Echo(s, o.RpcSize),
            "open" => s => Echo(s, 1),
            "fanin" or "mixed" => s => Echo(s, o.EchoBuf),
            "latency" => LatencyWorkload.Serve,
            "long-bulk" => longBulk!.Sink,
            _ => throw new ArgumentException($"unknown workload {o.Workload}"),
        };
        await host.StartAsync(handler, ct).ConfigureAwait(false);
        context.TakeIdleRss();
        Func<Task<Stream>> open = () => host.OpenAsync(ct);
        return o.Workload switch
        {
            "bulk" => await Bulk(o, open, bulkDone.Task).ConfigureAwait(false),
            "rpc" => await Rpc(o, open).ConfigureAwait(false),
            "open" => await OpenClose(o, open).ConfigureAwait(false),
            "mixed" => await MixedWorkload.Run(o, open).ConfigureAwait(false),
            "latency" => await LatencyWorkload.Run(o, o.Link!, open).ConfigureAwait(false),
            "long-bulk" => await longBulk!.Run(open).ConfigureAwait(false),
            _ => await Fanin(o, open).ConfigureAwait(false),
        };
    }

    private static async Task BulkSink(Stream s, BenchOptions o, TaskCompletionSource<TimeSpan> done)
    {
        await using var _ = s;
        var buf = new byte[o.Chunk];
        long got = 0, first = 0;
        try
        {
            while (got < o.BulkBytes)
            {
                int n = await s.ReadAsync(buf).ConfigureAwait(false);
                if (n == 0)
                {
                    done.TrySetException(new IOException($"server EOF after {got} bytes"));
                    return;
                }

                if (got == 0)
                {
                    first = Stopwatch.GetTimestamp();
                }

                got += n;
            }

            done.TrySetResult(Stopwatch.GetElapsedTime(first));
        }
        catch (Exception ex)
        {
            done.TrySetException(ex);
        }
    }

    private static async Task Echo(Stream s, int bufSize)
    {
        await using var _ = s;
        var buf = new byte[bufSize];
        try
        {
            int n;
            while ((n = await s.ReadAsync(buf).ConfigureAwait(false)) > 0)
            {
                await s.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // The peer went away (TcpChan's channel and session exceptions are IOExceptions too).
        }
    }

    private static async Task<Measurement> Bulk(BenchOptions o, Func<Task<Stream>> open, Task<TimeSpan> done)
    {
        await using var s = await open().ConfigureAwait(false);
        var payload = new byte[o.Chunk];
        for (long sent = 0; sent < o.BulkBytes;)
        {
            int n = (int)Math.Min(payload.Length, o.BulkBytes - sent);
            await s.WriteAsync(payload.AsMemory(0, n)).ConfigureAwait(false);
            sent += n;
        }

        var d = await done.ConfigureAwait(false);
        return new(o.BulkBytes / 1048576.0 / d.TotalSeconds, "MiB/s", d);
    }

    private static async Task<Measurement> Rpc(BenchOptions o, Func<Task<Stream>> open)
    {
        var streams = new Stream[o.RpcStreams];
        for (int i = 0; i < streams.Length; i++)
        {
            streams[i] = await open().ConfigureAwait(false);
        }

        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(streams.Select(s => Task.Run(async () =>
        {
            var req = new byte[o.RpcSize];
            var resp = new byte[o.RpcSize];
            for (int i = 0; i < o.RpcRounds; i++)
            {
                req[0] = (byte)i;
                await s.WriteAsync(req).ConfigureAwait(false);
                await s.ReadExactlyAsync(resp).ConfigureAwait(false);
                if (resp[0] != (byte)i)
                {
                    throw new InvalidDataException("rpc: wrong echo");
                }
            }
        }))).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        foreach (var s in streams)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        return new((double)o.RpcStreams * o.RpcRounds / d.TotalSeconds, "rt/s", d);
    }

    private static async Task<Measurement> OpenClose(BenchOptions o, Func<Task<Stream>> open)
    {
        int next = 0;
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, o.OpenConc).Select(_ => Task.Run(async () =>
        {
            var b = new byte[1];
            while (Interlocked.Increment(ref next) <= o.OpenTotal)
            {
                await using var s = await open().ConfigureAwait(false);
                b[0] = (byte)'x';
                await s.WriteAsync(b).ConfigureAwait(false);
                await s.ReadExactlyAsync(b).ConfigureAwait(false);
            }
        }))).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        return new(o.OpenTotal / d.TotalSeconds, "streams/s", d);
    }

    private static async Task<Measurement> Fanin(BenchOptions o, Func<Task<Stream>> open)
    {
        var payload = new byte[o.FaninBytes]; // shared, read-only
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, o.FaninStreams).Select(_ => Task.Run(async () =>
        {
            await using var s = await open().ConfigureAwait(false);
            var writer = Task.Run(async () =>
            {
                for (int off = 0; off < payload.Length; off += o.Chunk)
                {
                    await s.WriteAsync(payload.AsMemory(off, Math.Min(o.Chunk, payload.Length - off))).ConfigureAwait(false);
                }
            });
            var buf = new byte[o.EchoBuf];
            for (int got = 0; got < o.FaninBytes;)
            {
                int n = await s.ReadAsync(buf).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException($"fanin: EOF after {got} bytes");
                }

                got += n;
            }

            await writer.ConfigureAwait(false);
        }))).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        return new((double)o.FaninStreams * o.FaninBytes / 1048576.0 / d.TotalSeconds, "MiB/s", d);
    }
}
