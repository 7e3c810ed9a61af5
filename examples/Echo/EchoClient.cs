using System.Net.Sockets;
using TcpChan.Core;

namespace TcpChan.Examples.Echo;

/// <summary>Something went wrong in an echo run; the message says what.</summary>
public sealed class EchoException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EchoException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// Checks an echo server: opens channels, sends a distinct pseudo-random pattern on each,
/// and compares what comes back byte for byte. Speaks version 1 with a server that accepts
/// it and version 0 with the others (this one with <c>--max-version 0</c>, or the Python
/// reference's).
/// </summary>
public static class EchoClient
{
    // Each write is this much per channel. Version 0 sends it at once; the next waits until
    // it is on the wire. Version 1 sends what the server gave credit for and queues the rest
    // in the core: a channel writes again only when its queue is below this.
    private const int ChunkSize = 16 * 1024;

    /// <summary>
    /// Connects, checks the echo of <paramref name="size"/> bytes on each of
    /// <paramref name="channelCount"/> channels, closes, and returns the protocol version in use.
    /// <paramref name="maxVersion"/> is the newest version offered (0 makes a version-0-only client).
    /// </summary>
    /// <exception cref="EchoException">The handshake failed, the peer broke the protocol or went silent, the echo differs, or the connection ended early.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public static async Task<byte> RunAsync(
        string host, int port, int channelCount, int size, CancellationToken cancellationToken, byte maxVersion = ConnectionOptions.LatestVersion)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(host, port, cancellationToken);

        // Set (under the driver's lock) when a channel may write again or changed state; the
        // write loop waits on it when every unfinished channel is out of credit.
        TaskCompletionSource? progress = null;
        void Progress() => progress?.TrySetResult();

        var handshake = new TaskCompletionSource<byte>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new ConnectionOptions { MaxVersion = maxVersion };
        var driver = new SocketDriver(tcp, new ClientConnection(() => new CheckedChannel(Progress), options), e =>
        {
            // HandshakeFailed, ProtocolError and KeepAliveTimedOut end the connection (the
            // driver records why). ChannelClosed is handed to the channel that closed; the
            // channel hears of its data itself (OnEndOfData, OnWritable). PingAcknowledged
            // answers Connection.Ping, which this client does not use.
            switch (e)
            {
                case HandshakeSuccess success:
                    handshake.TrySetResult(success.Version);
                    break;
                case ChannelClosed { Channel: CheckedChannel closed }:
                    closed.OnClosed(closed.CloseReason!.Value);
                    break;
                case GoAwayReceived:
                    // The server shuts down: our channels above LastChannelId were refused
                    // (their ChannelClosed says so); the others may finish.
                    Progress();
                    break;
            }
        });
        Task running = driver.RunAsync(cancellationToken);

        // Waits for one step of the run, unless the connection ends first (then the step never would).
        async Task Step(Task step)
        {
            await Task.WhenAny(step, running);
            cancellationToken.ThrowIfCancellationRequested();
            if (!step.IsCompleted)
            {
                throw new EchoException(driver.EndReason ?? "the connection ended");
            }

            await step;
        }

        await Step(handshake.Task);
        byte version = handshake.Task.Result;
        try
        {
            // Made before taking the driver's lock: holding it would stall reading and timers.
            var patterns = Enumerable.Range(0, channelCount).Select(i => Pattern(i, size)).ToArray();
            var channels = new CheckedChannel[channelCount];
            await Step(driver.InvokeAsync(connection =>
            {
                for (int i = 0; i < channels.Length; i++)
                {
                    // The label reaches the server in version 1; version 0 cannot carry it.
                    channels[i] = (CheckedChannel)connection.CreateChannel($"echo {i}");
                    channels[i].Expect(patterns[i]);
                }
            }));

            await WriteAllAsync(driver, channels, Step, () => progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

            await Step(AllOrFirstFailure(channels.Select(c => c.Echoed)));

            // Close only once the whole echo is in: data that arrives for a closed channel is
            // dropped.
            await Step(driver.InvokeAsync(_ =>
            {
                foreach (var channel in channels)
                {
                    channel.Close();
                }
            }));

            if (version > 0)
            {
                // Version 1: Close ended our side; each channel completes when the server ends
                // its side too (its echo channel does so when ours ends).
                await Step(Task.WhenAll(channels.Select(c => c.Closed)));
                foreach (var channel in channels)
                {
                    if (channel.CloseReason != ChannelCloseReason.Completed)
                    {
                        throw new EchoException($"channel {channel.ChannelId}: closed ({channel.CloseReason}) instead of completing");
                    }
                }
            }

            // Version 0 has no close handshake and a peer need not answer our close, so do not
            // wait for one. Version 1: every channel is done; Close sends a go-away.
            await Step(driver.InvokeAsync(connection => connection.Close()));
        }
        catch (InvalidOperationException ex)
        {
            // CreateChannel or Write found the connection over (ChannelClosedException is one
            // of these); the connection's reason says more.
            throw new EchoException(driver.EndReason ?? ex.Message);
        }

        await running.WaitAsync(cancellationToken);
        return version;
    }

    /// <summary>The bytes sent on channel number <paramref name="index"/>: an xorshift stream, different for every channel.</summary>
    public static byte[] Pattern(int index, int size)
    {
        var bytes = new byte[size];
        uint x = 0x9E3779B9u * (uint)(index + 1);
        for (int i = 0; i < bytes.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes[i] = (byte)x;
        }

        return bytes;
    }

    // Completes when every task has, or fails as soon as one fails (Task.WhenAll would wait
    // for the others, which may never come back once one channel went wrong).
    private static async Task AllOrFirstFailure(IEnumerable<Task> tasks)
    {
        var pending = tasks.ToList();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            await done;
            pending.Remove(done);
        }
    }

    // Writes every channel's pattern, a chunk per channel per round, each round's output on
    // the wire before the next. Version 1: a channel whose queue (QueuedBytes) is not below a
    // chunk skips the round; when all are waiting, the loop sleeps until one may write again
    // (OnWritable) or closes. Memory stays at about a chunk per channel beyond the credit.
    private static async Task WriteAllAsync(SocketDriver driver, CheckedChannel[] channels, Func<Task, Task> step, Func<TaskCompletionSource> newProgress)
    {
        while (true)
        {
            bool done = true;
            Task? wait = null;
            await step(driver.InvokeAsync(_ =>
            {
                bool wrote = false;
                foreach (var channel in channels)
                {
                    if (channel.Sent == channel.Expected.Length)
                    {
                        continue;
                    }

                    done = false;
                    if (channel.IsClosed || channel.Echoed.IsFaulted)
                    {
                        continue; // its Echoed task says why
                    }

                    if (channel.QueuedBytes >= ChunkSize)
                    {
                        continue;
                    }

                    int count = Math.Min(ChunkSize, channel.Expected.Length - channel.Sent);
                    channel.Write(channel.Expected.AsSpan(channel.Sent, count));
                    channel.Sent += count;
                    wrote = true;
                }

                if (!done && !wrote)
                {
                    // Made under the lock, so no wake-up between this check and the wait is lost.
                    wait = newProgress().Task;
                }
            }));

            var failed = channels.FirstOrDefault(c => c.Echoed.IsFaulted);
            if (failed is not null)
            {
                await failed.Echoed; // throws its EchoException
            }

            if (done)
            {
                return;
            }

            if (wait is not null)
            {
                await step(wait);
            }
        }
    }

    private sealed class CheckedChannel(Action progress) : Channel
    {
        private readonly TaskCompletionSource _echoed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _received;

        public byte[] Expected { get; private set; } = [];

        // Bytes of Expected written so far (sent or queued in the core).
        public int Sent { get; set; }

        // Completes when the whole pattern came back; fails on the first wrong byte or an early close.
        public Task Echoed => _echoed.Task;

        // Completes when the channel has closed, for any reason.
        public Task Closed => _closed.Task;

        public void Expect(byte[] expected)
        {
            Expected = expected;
            if (expected.Length == 0)
            {
                _echoed.TrySetResult();
            }
        }

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            if (_echoed.Task.IsCompleted)
            {
                return;
            }

            var expected = Expected.AsSpan(_received);
            int common = Math.Min(data.Length, expected.Length);
            int same = data[..common].CommonPrefixLength(expected[..common]);
            if (same < common)
            {
                Fail($"echo differs at byte {_received + same}: sent 0x{expected[same]:X2}, got 0x{data[same]:X2}");
                return;
            }

            if (data.Length > expected.Length)
            {
                Fail($"received {data.Length - expected.Length} bytes more than were sent");
                return;
            }

            _received += data.Length;
            if (_received == Expected.Length)
            {
                _echoed.TrySetResult();
            }
        }

        // Version 1: the server ended its side. Fine once everything came back; before, it is short.
        protected override void OnEndOfData()
        {
            if (_received < Expected.Length)
            {
                Fail($"the server ended its data after {_received} of {Expected.Length} bytes came back");
            }
        }

        // Version 1: the queue drained; the write loop may go on.
        protected override void OnWritable() => progress();

        // The connection reported this channel closed (its ChannelClosed event).
        public void OnClosed(ChannelCloseReason reason)
        {
            // When the whole connection ends (lost, protocol error, keepalive), Echoed stays
            // pending: Step sees the connection end and reports the connection's reason instead.
            if (reason is ChannelCloseReason.RemoteClose or ChannelCloseReason.ApplicationError
                or ChannelCloseReason.RemoteReset or ChannelCloseReason.LocalReset or ChannelCloseReason.Refused
                or ChannelCloseReason.Completed)
            {
                Fail($"closed ({reason}{(CloseCode is { } code ? ", code " + code : string.Empty)}) after {_received} of {Expected.Length} bytes came back");
            }

            _closed.TrySetResult();
            progress();
        }

        private void Fail(string what)
        {
            _echoed.TrySetException(new EchoException($"channel {ChannelId}: {what}"));
            progress();
        }
    }
}
