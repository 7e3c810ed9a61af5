using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// <c>tcpchan-pipelines</c>: Adapters.Pipelines end to end. Each session runs over a
/// <see cref="DuplexPipeTransport"/> on a <see cref="NetworkStream"/> (the core parses straight out
/// of the pipe's buffers), and every channel is an <see cref="IDuplexPipe"/>
/// (<c>OpenPipeAsync</c> / <c>AcceptPipeAsync</c>), ONE TCP connection in all.
/// </summary>
/// <remarks>
/// The workloads are the peers' with pipe idioms: the writer is <c>Output.WriteAsync</c>
/// (copy + flush, which waits for credit) in the same chunk sizes; the reader takes whatever
/// <c>Input.ReadAsync</c> has and advances past it, so there are no fixed read buffers; the
/// server echoes what it reads as it comes (<c>Input.CopyToAsync(Output)</c>), then completes
/// both halves, which closes the channel.
/// </remarks>
internal static class PipelinesPeer
{
    public static async Task<Measurement> RunAsync(RunContext context)
    {
        var o = context.Options;
        var ct = context.Cancellation;
        var (clientSocket, serverSocket) = await LoopbackSockets.ConnectAsync(ct).ConfigureAwait(false);
        var serverOptions = BenchTuning.Session(o.FaninStreams);
        var serverTask = TcpChanSession.AcceptAsync(DuplexPipeTransport.Create(new NetworkStream(serverSocket, ownsSocket: true)), serverOptions, ct);
        await using var client = await TcpChanSession.ConnectAsync(DuplexPipeTransport.Create(new NetworkStream(clientSocket, ownsSocket: true)), BenchTuning.Session(), ct).ConfigureAwait(false);
        await using var server = await serverTask.ConfigureAwait(false);

        var bulkDone = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<ChannelPipe, Task> handler = o.Workload switch
        {
            "bulk" => p => BulkSink(p, o, bulkDone),
            "rpc" or "open" or "fanin" or "mixed" => Echo,
            _ => throw new ArgumentException($"unknown workload {o.Workload}"),
        };
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var pipe = await server.AcceptPipeAsync(ct).ConfigureAwait(false);
                    _ = Task.Run(() => handler(pipe), CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is TcpChanSessionException or OperationCanceledException)
            {
            }
        }, CancellationToken.None);

        context.TakeIdleRss();
        return o.Workload switch
        {
            "bulk" => await Bulk(o, client, bulkDone.Task, ct).ConfigureAwait(false),
            "rpc" => await Rpc(o, client, ct).ConfigureAwait(false),
            "open" => await OpenClose(o, client, ct).ConfigureAwait(false),
            "mixed" => await MixedWorkload.Run(o, async () => new DuplexPipeStream(await client.OpenPipeAsync(null, ct).ConfigureAwait(false))).ConfigureAwait(false),
            _ => await Fanin(o, client, ct).ConfigureAwait(false),
        };
    }

    private static async Task BulkSink(ChannelPipe pipe, BenchOptions o, TaskCompletionSource<TimeSpan> done)
    {
        long got = 0, first = 0;
        try
        {
            while (got < o.BulkBytes)
            {
                var result = await pipe.Input.ReadAsync().ConfigureAwait(false);
                long n = result.Buffer.Length;
                if (n > 0 && got == 0)
                {
                    first = Stopwatch.GetTimestamp();
                }

                got += n;
                pipe.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted && got < o.BulkBytes)
                {
                    throw new IOException($"server EOF after {got} bytes");
                }
            }

            done.TrySetResult(Stopwatch.GetElapsedTime(first));
            await pipe.Input.CompleteAsync().ConfigureAwait(false);
            await pipe.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            done.TrySetException(ex);
        }
    }

    private static async Task Echo(ChannelPipe pipe)
    {
        try
        {
            await pipe.Input.CopyToAsync(pipe.Output).ConfigureAwait(false);
            await pipe.Input.CompleteAsync().ConfigureAwait(false);
            await pipe.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // The peer went away.
            await pipe.Input.CompleteAsync(ex).ConfigureAwait(false);
            await pipe.Output.CompleteAsync(ex).ConfigureAwait(false);
        }
    }

    private static async Task Close(ChannelPipe pipe)
    {
        await pipe.Output.CompleteAsync().ConfigureAwait(false);
        await pipe.Input.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Reads until <paramref name="count"/> bytes have come; returns the first of them.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<byte> ReadExactlyAsync(PipeReader input, int count, CancellationToken ct)
    {
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                byte first = buffer.FirstSpan[0];
                input.AdvanceTo(buffer.GetPosition(count));
                return first;
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException($"EOF with {buffer.Length} of {count} bytes");
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async Task<Measurement> Bulk(BenchOptions o, TcpChanSession client, Task<TimeSpan> done, CancellationToken ct)
    {
        var pipe = await client.OpenPipeAsync(null, ct).ConfigureAwait(false);
        var payload = new byte[o.Chunk];
        for (long sent = 0; sent < o.BulkBytes;)
        {
            int n = (int)Math.Min(payload.Length, o.BulkBytes - sent);
            await pipe.Output.WriteAsync(payload.AsMemory(0, n), ct).ConfigureAwait(false);
            sent += n;
        }

        var d = await done.ConfigureAwait(false);
        await Close(pipe).ConfigureAwait(false);
        return new(o.BulkBytes / 1048576.0 / d.TotalSeconds, "MiB/s", d);
    }

    private static async Task<Measurement> Rpc(BenchOptions o, TcpChanSession client, CancellationToken ct)
    {
        var pipes = new ChannelPipe[o.RpcStreams];
        for (int i = 0; i < pipes.Length; i++)
        {
            pipes[i] = await client.OpenPipeAsync(null, ct).ConfigureAwait(false);
        }

        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(pipes.Select(p => Task.Run(async () =>
        {
            var req = new byte[o.RpcSize];
            for (int i = 0; i < o.RpcRounds; i++)
            {
                req[0] = (byte)i;
                await p.Output.WriteAsync(req, ct).ConfigureAwait(false);
                if (await ReadExactlyAsync(p.Input, o.RpcSize, ct).ConfigureAwait(false) != (byte)i)
                {
                    throw new InvalidDataException("rpc: wrong echo");
                }
            }
        }, ct))).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        foreach (var p in pipes)
        {
            await Close(p).ConfigureAwait(false);
        }

        return new((double)o.RpcStreams * o.RpcRounds / d.TotalSeconds, "rt/s", d);
    }

    private static async Task<Measurement> OpenClose(BenchOptions o, TcpChanSession client, CancellationToken ct)
    {
        int next = 0;
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, o.OpenConc).Select(_ => Task.Run(async () =>
        {
            var b = new byte[] { (byte)'x' };
            while (Interlocked.Increment(ref next) <= o.OpenTotal)
            {
                var p = await client.OpenPipeAsync(null, ct).ConfigureAwait(false);
                await p.Output.WriteAsync(b, ct).ConfigureAwait(false);
                await ReadExactlyAsync(p.Input, 1, ct).ConfigureAwait(false);
                await Close(p).ConfigureAwait(false);
            }
        }, ct))).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        return new(o.OpenTotal / d.TotalSeconds, "streams/s", d);
    }

    private static async Task<Measurement> Fanin(BenchOptions o, TcpChanSession client, CancellationToken ct)
    {
        var payload = new byte[o.FaninBytes]; // shared, read-only
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, o.FaninStreams).Select(_ => Task.Run(async () =>
        {
            var p = await client.OpenPipeAsync(null, ct).ConfigureAwait(false);
            var writer = Task.Run(async () =>
            {
                for (int off = 0; off < payload.Length; off += o.Chunk)
                {
                    await p.Output.WriteAsync(payload.AsMemory(off, Math.Min(o.Chunk, payload.Length - off)), ct).ConfigureAwait(false);
                }
            }, ct);
            for (long got = 0; got < o.FaninBytes;)
            {
                var result = await p.Input.ReadAsync(ct).ConfigureAwait(false);
                got += result.Buffer.Length;
                p.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted && got < o.FaninBytes)
                {
                    throw new IOException($"fanin: EOF after {got} bytes");
                }
            }

            await writer.ConfigureAwait(false);
            await Close(p).ConfigureAwait(false);
        }, ct))).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        return new((double)o.FaninStreams * o.FaninBytes / 1048576.0 / d.TotalSeconds, "MiB/s", d);
    }
}
