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
/// and compares what comes back byte for byte. Relies on version-0 behaviour only, so it
/// works against any TCPChan echo server (this one, or the Python reference's).
/// </summary>
public static class EchoClient
{
    // Each write is this much per channel; the next waits until it is on the wire.
    private const int ChunkSize = 16 * 1024;

    /// <summary>
    /// Connects, checks the echo of <paramref name="size"/> bytes on each of
    /// <paramref name="channelCount"/> channels, closes, and returns the protocol version in use.
    /// </summary>
    /// <exception cref="EchoException">The handshake failed, the peer broke the protocol, the echo differs, or the connection ended early.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public static async Task<byte> RunAsync(string host, int port, int channelCount, int size, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(host, port, cancellationToken);

        var handshake = new TaskCompletionSource<byte>(TaskCreationOptions.RunContinuationsAsynchronously);
        var driver = new SocketDriver(tcp, new ClientConnection(() => new CheckedChannel()), e =>
        {
            // HandshakeFailed and ProtocolError end the connection (the driver records why);
            // ChannelClosed reaches the channel itself, as OnClosed.
            if (e is HandshakeSuccess success)
            {
                handshake.TrySetResult(success.Version);
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
            var channels = new CheckedChannel[channelCount];
            await Step(driver.InvokeAsync(connection =>
            {
                for (int i = 0; i < channels.Length; i++)
                {
                    channels[i] = (CheckedChannel)connection.CreateChannel();
                    channels[i].Expect(Pattern(i, size));
                }
            }));

            for (int offset = 0; offset < size; offset += ChunkSize)
            {
                int count = Math.Min(ChunkSize, size - offset);
                await Step(driver.InvokeAsync(_ =>
                {
                    foreach (var channel in channels)
                    {
                        channel.Write(channel.Expected.AsSpan(offset, count));
                    }
                }));
            }

            await Step(Task.WhenAll(channels.Select(c => c.Echoed)));

            // Close only once the whole echo is in: data that arrives for a closed channel is
            // dropped. Version 0 has no close handshake and a peer need not answer our close,
            // so do not wait for one: close the connection and go.
            await Step(driver.InvokeAsync(connection =>
            {
                foreach (var channel in channels)
                {
                    channel.Close();
                }

                connection.Close();
            }));
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

    private sealed class CheckedChannel : Channel
    {
        private readonly TaskCompletionSource _echoed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _received;

        public byte[] Expected { get; private set; } = [];

        // Completes when the whole pattern came back; fails on the first wrong byte or an early close.
        public Task Echoed => _echoed.Task;

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

        protected override void OnClosed(ChannelCloseReason reason)
        {
            // When the whole connection ends (lost, protocol error), Echoed stays pending:
            // Step sees the connection end and reports the connection's reason instead.
            if (reason is ChannelCloseReason.RemoteClose or ChannelCloseReason.ApplicationError)
            {
                Fail($"closed ({reason}) after {_received} of {Expected.Length} bytes came back");
            }
        }

        private void Fail(string what) =>
            _echoed.TrySetException(new EchoException($"channel {ChannelId}: {what}"));
    }
}
