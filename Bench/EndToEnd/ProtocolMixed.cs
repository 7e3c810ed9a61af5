using System.Diagnostics;
using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// mixed for <c>tcpchan-sockets</c>, in callback form with the peers' definition (see
/// <see cref="MixedWorkload"/>): one channel's round trips of <see cref="BenchOptions.RpcSize"/>
/// bytes timed one by one, alone and then while <see cref="BenchOptions.MixedBulk"/> other
/// channels write <see cref="BenchOptions.Chunk"/>-byte chunks as fast as credit allows (their
/// echo discarded as it arrives). The next request leaves from the callback that received the
/// whole answer; a round trip is timed from the request's <see cref="Channel.Write"/> to that
/// callback. The server is <see cref="ProtocolPeer"/>'s echo (credit back only for bytes that left).
/// </summary>
internal static class ProtocolMixed
{
    public static async Task<Measurement> Run(BenchOptions o, ProtocolPeer.ClientProtocol client)
    {
        client.Factory = () => new RpcChannel(o.RpcSize, client);
        var rpc = (RpcChannel)client.CreateChannel();
        await client.Await(rpc.Rounds(Math.Min(100, o.MixedRounds))).ConfigureAwait(false); // warm-up, untimed
        var alone = await client.Await(rpc.Rounds(o.MixedRounds)).ConfigureAwait(false);

        var payload = new byte[o.Chunk];
        client.Factory = () => new BulkChannel(payload);
        var bulk = new BulkChannel[o.MixedBulk];
        for (int i = 0; i < bulk.Length; i++)
        {
            bulk[i] = (BulkChannel)client.CreateChannel();
        }

        await Task.Delay(o.MixedWarmup).ConfigureAwait(false); // let the bulk channels fill the connection
        long sent0 = bulk.Sum(b => b.Sent);
        long start = Stopwatch.GetTimestamp();
        var loaded = await client.Await(rpc.Rounds(o.MixedRounds)).ConfigureAwait(false);
        var d = Stopwatch.GetElapsedTime(start);
        double bulkMiBs = (bulk.Sum(b => b.Sent) - sent0) / 1048576.0 / d.TotalSeconds;
        client.Invoke(() =>
        {
            foreach (var b in bulk)
            {
                b.Stop();
            }

            rpc.Close();
        });
        return MixedWorkload.Result(alone, loaded, bulkMiBs, d);
    }

    /// <summary>The timed channel: one request at a time, each one's latency in µs.</summary>
    private sealed class RpcChannel(int size, ProtocolPeer.ClientProtocol client) : RoundTripChannel(size)
    {
        private double[] _latencies = [];
        private TaskCompletionSource<double[]> _done = new();
        private long _sentAt;

        /// <summary>Runs <paramref name="n"/> round trips; the task completes with their latencies.</summary>
        public Task<double[]> Rounds(int n)
        {
            var done = new TaskCompletionSource<double[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.Invoke(() =>
            {
                _latencies = new double[n];
                _done = done;
                Round = 0;
                SendTimed();
            });
            return done.Task;
        }

        protected override void RoundTripped()
        {
            _latencies[Round] = Stopwatch.GetElapsedTime(_sentAt).TotalMicroseconds;
            if (++Round < _latencies.Length)
            {
                SendTimed();
            }
            else
            {
                _done.TrySetResult(_latencies);
            }
        }

        protected override void Failed(Exception error) => _done.TrySetException(error);

        public override void Closed(ChannelCloseReason reason) =>
            _done.TrySetException(new IOException($"mixed: rpc channel closed ({reason})"));

        private void SendTimed()
        {
            _sentAt = Stopwatch.GetTimestamp();
            Send();
        }
    }

    /// <summary>A bulk channel: writes chunks as credit allows until stopped, discards the echo.</summary>
    private sealed class BulkChannel(byte[] chunk) : BenchChannel
    {
        private long _sent;
        private bool _stopped;

        /// <summary>Bytes written so far (read from outside the callbacks).</summary>
        public long Sent => Interlocked.Read(ref _sent);

        /// <summary>Under the protocol's lock: stops writing and closes.</summary>
        public void Stop()
        {
            _stopped = true;
            Close();
        }

        public override void Created() => Pump();

        protected override void OnWritable() => Pump();

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
        }

        private void Pump()
        {
            while (!_stopped)
            {
                // The rest of the current chunk (a write that got less credit than it asked for).
                int offset = (int)(_sent % chunk.Length);
                int n = TryWrite(chunk.AsSpan(offset));
                Interlocked.Add(ref _sent, n);
                if (n < chunk.Length - offset)
                {
                    return; // OnWritable goes on
                }
            }
        }
    }
}
