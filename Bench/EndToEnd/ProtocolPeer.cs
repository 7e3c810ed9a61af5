using System.Diagnostics;
using System.Net;
using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// <c>tcpchan-sockets</c>: the callback API, the lowest-overhead way to use TcpChan. Both ends
/// are <see cref="TcpChanProtocol"/>s over Adapters.Sockets (<see cref="TcpChanListener.ServeAsync"/>,
/// <see cref="TcpChanClient.RunAsync(EndPoint, TcpChanClientProtocol, CancellationToken)"/>), ONE TCP
/// connection, default options, and every stream is a <see cref="Channel"/> subclass whose
/// callbacks do the work under the protocol's lock: no task, buffer or thread hop per read.
/// </summary>
/// <remarks>
/// The workloads keep the peers' definitions (sizes, concurrency, what is timed) in callback
/// form. A received chunk is the span the core hands over, so there are no read buffers.
/// Writers write the same chunks with <see cref="Channel.TryWrite"/> and go on in
/// <c>OnWritable</c> when credit runs out. The server echoes with backpressure: it writes what
/// arrives and gives the peer credit back only for bytes that actually left (its channels
/// consume manually), so a slow reader slows the writer instead of growing queues. Rpc, open
/// and fanin chain their next step (next request, next stream) from inside the callback that
/// completes the previous one.
/// </remarks>
internal static class ProtocolPeer
{
    public static async Task<Measurement> RunAsync(RunContext context)
    {
        var o = context.Options;
        var ct = context.Cancellation;
        var bulkDone = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<Channel> serverChannels = o.Workload switch
        {
            "bulk" => () => new SinkChannel(o.BulkBytes, bulkDone),
            "rpc" or "open" or "fanin" or "mixed" => () => new EchoChannel(),
            _ => throw new ArgumentException($"unknown workload {o.Workload}"),
        };

        await using var listener = TcpChanListener.Start(new IPEndPoint(IPAddress.Loopback, 0), BenchTuning.Session());
        using var stopServing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var serving = listener.ServeAsync(() => new ServerProtocol(serverChannels), stopServing.Token);
        var client = new ClientProtocol();
        var running = TcpChanClient.RunAsync(listener.LocalEndPoint, client, ct);
        try
        {
            await client.Established.WaitAsync(ct).ConfigureAwait(false);
            context.TakeIdleRss();
            return o.Workload switch
            {
                "bulk" => await Bulk(o, client, bulkDone.Task).ConfigureAwait(false),
                "rpc" => await Rpc(o, client).ConfigureAwait(false),
                "open" => await OpenClose(o, client).ConfigureAwait(false),
                "mixed" => await ProtocolMixed.Run(o, client).ConfigureAwait(false),
                _ => await Fanin(o, client).ConfigureAwait(false),
            };
        }
        finally
        {
            client.Close();
            await running.ConfigureAwait(false);
            await stopServing.CancelAsync().ConfigureAwait(false);
            await serving.ConfigureAwait(false);
        }
    }

    private static async Task<Measurement> Bulk(BenchOptions o, ClientProtocol client, Task<TimeSpan> done)
    {
        var payload = new byte[o.Chunk];
        client.Factory = () => new WriterChannel(payload, o.BulkBytes, client);
        client.CreateChannel();
        var d = await client.Await(done).ConfigureAwait(false);
        return new(o.BulkBytes / 1048576.0 / d.TotalSeconds, "MiB/s", d);
    }

    private static async Task<Measurement> Rpc(BenchOptions o, ClientProtocol client)
    {
        var all = new Countdown(o.RpcStreams);
        client.Factory = () => new RpcChannel(o.RpcRounds, o.RpcSize, all);
        var channels = new RpcChannel[o.RpcStreams];
        for (int i = 0; i < channels.Length; i++)
        {
            channels[i] = (RpcChannel)client.CreateChannel();
        }

        long start = Stopwatch.GetTimestamp();
        client.Invoke(() =>
        {
            foreach (var channel in channels)
            {
                channel.Start();
            }
        });
        await client.Await(all.Task).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        client.Invoke(() =>
        {
            foreach (var channel in channels)
            {
                channel.Close();
            }
        });
        return new((double)o.RpcStreams * o.RpcRounds / d.TotalSeconds, "rt/s", d);
    }

    private static async Task<Measurement> OpenClose(BenchOptions o, ClientProtocol client)
    {
        var workers = new Countdown(o.OpenConc);
        int next = 0;
        void StartNext(Connection connection)
        {
            // Each worker takes the next stream until all have been done, as the peers' 16 tasks do.
            if (Interlocked.Increment(ref next) <= o.OpenTotal)
            {
                connection.CreateChannel();
            }
            else
            {
                workers.Signal();
            }
        }

        client.Factory = () => new OpenChannel(StartNext);
        long start = Stopwatch.GetTimestamp();
        client.Invoke(() =>
        {
            for (int i = 0; i < o.OpenConc; i++)
            {
                StartNext(client.Connection);
            }
        });
        await client.Await(workers.Task).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        return new(o.OpenTotal / d.TotalSeconds, "streams/s", d);
    }

    private static async Task<Measurement> Fanin(BenchOptions o, ClientProtocol client)
    {
        var payload = new byte[o.FaninBytes]; // shared, read-only
        var all = new Countdown(o.FaninStreams);
        client.Factory = () => new FaninChannel(payload, o.Chunk, all, client);
        long start = Stopwatch.GetTimestamp();
        client.Invoke(() =>
        {
            for (int i = 0; i < o.FaninStreams; i++)
            {
                client.Connection.CreateChannel();
            }
        });
        await client.Await(all.Task).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        return new((double)o.FaninStreams * o.FaninBytes / 1048576.0 / d.TotalSeconds, "MiB/s", d);
    }

    /// <summary>The client: makes the workload's channels, and fails the run if the connection ends early.</summary>
    internal sealed class ClientProtocol : TcpChanClientProtocol
    {
        private readonly TaskCompletionSource _established = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ClientProtocol()
            : this(new FactoryBox())
        {
        }

        private ClientProtocol(FactoryBox box)
            : base(() => box.Factory!(), BenchTuning.Session())
        {
            Box = box;
        }

        public Func<Channel>? Factory
        {
            get => Box.Factory;
            set => Box.Factory = value;
        }

        public Task Established => _established.Task;

        private FactoryBox Box { get; }

        /// <summary>Waits for <paramref name="task"/>, or throws if the connection or a channel failed first.</summary>
        public async Task<T> Await<T>(Task<T> task)
        {
            await Task.WhenAny(task, _failed.Task).ConfigureAwait(false);
            if (_failed.Task.IsFaulted && !task.IsCompleted)
            {
                await _failed.Task.ConfigureAwait(false);
            }

            return await task.ConfigureAwait(false);
        }

        public void Fail(Exception error) => _failed.TrySetException(error);

        public override void HandshakeSuccess() => _established.TrySetResult();

        public override void ChannelCreated(Channel channel) => ((BenchChannel)channel).Created();

        public override void ChannelClosed(Channel channel) => ((BenchChannel)channel).Closed(channel.CloseReason!.Value);

        public override void ConnectionLost(TcpChanSessionException error)
        {
            _established.TrySetException(error);
            _failed.TrySetException(error);
        }

        private sealed class FactoryBox
        {
            public Func<Channel>? Factory;
        }
    }

    /// <summary>The server: its channels hear of their life from it (the core reports it as connection events).</summary>
    private sealed class ServerProtocol(Func<Channel> channels) : TcpChanServerProtocol(channels, BenchTuning.Session())
    {
        public override void ChannelCreated(Channel channel) => ((BenchChannel)channel).Created();

        public override void ChannelClosed(Channel channel) => ((BenchChannel)channel).Closed(channel.CloseReason!.Value);
    }

    /// <summary>Completes when signalled <c>count</c> times.</summary>
    private sealed class Countdown
    {
        private readonly TaskCompletionSource<int> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _left;

        public Countdown(int count)
        {
            _left = count;
            if (count <= 0)
            {
                _done.TrySetResult(0);
            }
        }

        public Task<int> Task => _done.Task;

        public void Signal()
        {
            if (Interlocked.Decrement(ref _left) == 0)
            {
                _done.TrySetResult(0);
            }
        }

        public void Fail(Exception error) => _done.TrySetException(error);
    }

    /// <summary>Server, bulk: counts what arrives; the clock runs from the first byte to the last.</summary>
    private sealed class SinkChannel(long total, TaskCompletionSource<TimeSpan> done) : BenchChannel
    {
        private long _got;
        private long _first;

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            if (_got == 0)
            {
                _first = Stopwatch.GetTimestamp();
            }

            _got += data.Length;
            if (_got >= total)
            {
                done.TrySetResult(Stopwatch.GetElapsedTime(_first));
            }
        }

        protected override void OnEndOfData() => Close();

        public override void Closed(ChannelCloseReason reason)
        {
            if (_got < total)
            {
                done.TrySetException(new IOException($"server: channel closed ({reason}) after {_got} bytes"));
            }
        }
    }

    /// <summary>
    /// Server, rpc/open/fanin: writes back what arrives; credit goes back to the peer only for
    /// bytes that left (the rest waits in the channel's send queue), and the channel closes when
    /// the peer ends its data and everything is echoed.
    /// </summary>
    private sealed class EchoChannel() : BenchChannel(autoConsume: false)
    {
        private long _held; // delivered and counted by the connection, not consumed yet

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            Write(data);

            // This chunk counts as delivered only once the callback returns, so only what came
            // before it can be consumed here; what is still queued is always the newest bytes.
            long sent = _held + data.Length - QueuedBytes;
            long consumable = Math.Min(_held, sent);
            if (consumable > 0)
            {
                _held -= consumable;
                Consume((int)consumable);
            }

            _held += data.Length;
        }

        protected override void OnWritable()
        {
            long consumable = _held - QueuedBytes;
            if (consumable > 0)
            {
                _held -= consumable;
                Consume((int)consumable);
            }
        }

        protected override void OnEndOfData() => Close();
    }

    /// <summary>Client, bulk: writes <c>total</c> bytes in chunks as credit allows.</summary>
    private sealed class WriterChannel(byte[] chunk, long total, ClientProtocol client) : BenchChannel
    {
        private long _sent;

        public override void Created() => Pump();

        protected override void OnWritable() => Pump();

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
        }

        public override void Closed(ChannelCloseReason reason)
        {
            if (_sent < total)
            {
                client.Fail(new IOException($"bulk: channel closed ({reason}) after {_sent} bytes"));
            }
        }

        private void Pump()
        {
            while (_sent < total)
            {
                // The rest of the current chunk (a write that got less credit than it asked for).
                int offset = (int)(_sent % chunk.Length);
                int want = (int)Math.Min(chunk.Length - offset, total - _sent);
                int n = TryWrite(chunk.AsSpan(offset, want));
                _sent += n;
                if (n < want)
                {
                    return; // OnWritable goes on
                }
            }

            CompleteWrites();
        }
    }

    /// <summary>Client, rpc: one request at a time; the next leaves from the callback that completes the answer.</summary>
    private sealed class RpcChannel(int rounds, int size, Countdown all) : RoundTripChannel(size)
    {
        public void Start() => Send();

        protected override void RoundTripped()
        {
            if (++Round < rounds)
            {
                Send();
            }
            else
            {
                all.Signal();
            }
        }

        protected override void Failed(Exception error) => all.Fail(error);
    }

    /// <summary>Client, open: write one byte, read it back, close, and the worker starts the next stream.</summary>
    private sealed class OpenChannel(Action<Connection> next) : BenchChannel
    {
        private static readonly byte[] One = [(byte)'x'];
        private bool _done;

        public override void Created() => Write(One);

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            var connection = Connection;
            Close();
            next(connection);
        }
    }

    /// <summary>Client, fanin: writes the payload in chunks as credit allows while counting the echo.</summary>
    private sealed class FaninChannel(byte[] payload, int chunk, Countdown all, ClientProtocol client) : BenchChannel
    {
        private int _sent;
        private int _got;

        public override void Created() => Pump();

        protected override void OnWritable() => Pump();

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            _got += data.Length;
            if (_got == payload.Length)
            {
                Close();
                all.Signal();
            }
        }

        public override void Closed(ChannelCloseReason reason)
        {
            if (_got < payload.Length)
            {
                client.Fail(new IOException($"fanin: channel closed ({reason}) after {_got} bytes"));
            }
        }

        private void Pump()
        {
            while (_sent < payload.Length)
            {
                // Writes of `chunk` bytes at chunk boundaries; a partial one goes on from where it stopped.
                int end = Math.Min(((_sent / chunk) + 1) * chunk, payload.Length);
                int want = end - _sent;
                int n = TryWrite(payload.AsSpan(_sent, want));
                _sent += n;
                if (n < want)
                {
                    return;
                }
            }
        }
    }
}
