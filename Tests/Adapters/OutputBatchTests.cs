using System.IO.Pipelines;
using TcpChan.Core;
using TcpChan.Internal;
using TcpChan.Tests.Pipelines;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// How much one transport write takes from the core (OutputPump): small batches while channels
/// take turns or the transport made a write wait, larger ones for one channel alone while the
/// transport takes every write at once. In-memory pipes that never push back, so every write
/// completes at once unless the test holds it.
/// </summary>
public class OutputBatchTests
{
    private const int Data = 4 << 20;

    [Fact]
    public async Task One_channel_alone_gets_larger_writes_while_the_transport_keeps_up()
    {
        var sends = await SendAsync(channels: 1);

        Assert.All(sends, n => Assert.True(n <= OutputPump.MaxBatchBytes, $"a write of {n} bytes"));
        Assert.Contains(sends, n => n > OutputPump.BatchBytes);
    }

    [Fact]
    public async Task Channels_taking_turns_get_small_writes()
    {
        var sends = await SendAsync(channels: 2);

        // Both queues drain in turns, so both hold data until the last few writes; every write
        // before the last 1 MiB left is a small batch.
        long left = 2L * Data;
        foreach (int n in sends)
        {
            if (left <= 1 << 20)
            {
                break;
            }

            Assert.True(n <= OutputPump.BatchBytes, $"a write of {n} bytes with {left} bytes left");
            left -= n;
        }
    }

    /// <summary>
    /// Holds the client's sends, writes <see cref="Data"/> bytes on each of <paramref name="channels"/>
    /// channels (copied into their queues), lets the sends go and returns the size of every write
    /// that carried them, once the server has read everything.
    /// </summary>
    private static async Task<List<int>> SendAsync(int channels)
    {
        var up = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var down = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var transport = new RecordingTransport(new DuplexPipeTransport(new PipeSessionTests.Duplex(down.Reader, up.Writer)));
        var serverOptions = new TcpChanSessionOptions
        {
            Connection = new ConnectionOptions { InitialChannelWindow = 2 * Data, SessionReceiveBudget = 4 * Data, AutoTuneWindows = false },
        };
        var accepting = TcpChanSession.AcceptAsync(new DuplexPipeTransport(new PipeSessionTests.Duplex(up.Reader, down.Writer)), serverOptions);
        await using var client = await TcpChanSession.ConnectAsync(transport, new TcpChanSessionOptions { MaxUnsentBytes = 4 * Data }).WaitAsync(Loopback.Timeout);
        await using var server = await accepting.WaitAsync(Loopback.Timeout);

        var streams = new List<TcpChanStream>();
        var reads = new List<Task<byte[]>>();
        for (int i = 0; i < channels; i++)
        {
            var stream = await client.OpenChannelAsync().WaitAsync(Loopback.Timeout);
            await stream.WriteAsync(new byte[1]).AsTask().WaitAsync(Loopback.Timeout); // the open reaches the server
            var accepted = await server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
            Assert.Equal(1, await accepted.ReadAsync(new byte[1]).AsTask().WaitAsync(Loopback.Timeout));
            streams.Add(stream);
            reads.Add(Loopback.ReadExactlyAsync(accepted, Data));
        }

        transport.Hold();
        using var token = new CancellationTokenSource(); // a cancelable write is copied into the channel's queue
        var writes = streams.Select(s => s.WriteAsync(new byte[Data], token.Token).AsTask()).ToList();
        await Task.WhenAll(writes).WaitAsync(Loopback.Timeout);
        transport.Release();
        await Task.WhenAll(reads).WaitAsync(Loopback.Timeout);
        return transport.TakeSends();
    }

    /// <summary>Records the size of every write; can hold them back until released.</summary>
    private sealed class RecordingTransport(ITcpChanTransport inner) : ITcpChanTransport
    {
        private readonly List<int> _sends = new();
        private TaskCompletionSource? _held;

        public void Hold() => Volatile.Write(ref _held, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void Release()
        {
            lock (_sends)
            {
                _sends.Clear(); // what went before: the handshake, the opens, and the held write (taken before every channel had written)
            }

            Volatile.Read(ref _held)?.TrySetResult();
        }

        public List<int> TakeSends()
        {
            lock (_sends)
            {
                return _sends.ToList();
            }
        }

        public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) => inner.ReceiveAsync(buffer, cancellationToken);

        public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            lock (_sends)
            {
                _sends.Add(data.Length);
            }

            if (Volatile.Read(ref _held) is { } held)
            {
                await held.Task.WaitAsync(cancellationToken);
            }

            await inner.SendAsync(data, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
