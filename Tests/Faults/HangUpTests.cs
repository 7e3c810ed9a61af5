using System.Net.Sockets;
using TcpChan.Core;
using TcpChan.Core.Frames;
using TcpChan.Tests.Adapters;
using Xunit;

namespace TcpChan.Tests.Faults;

/// <summary>Peers that hang up at awkward moments or stop reading, over real sockets.</summary>
public class HangUpTests
{
    [Theory]
    [InlineData("payload header", new byte[] { 1, 5, 0, 0 })]
    [InlineData("payload body", new byte[] { 1, 5, 0, 0, 0, 1, 0, 10, 1, 2, 3 })]
    [InlineData("channel open", new byte[] { 1, 3, 0, 0, 0, 2, 5, (byte)'a', (byte)'b' })]
    public async Task A_peer_that_hangs_up_mid_frame_fails_every_pending_operation(string where, byte[] partial)
    {
        var (peer, client) = await RawPeer.ConnectAsync();
        await using var _ = client;
        var stream = await client.OpenChannelAsync(); // channel 1
        var reading = Loopback.ReadAllAsync(stream);  // may get part of a payload, never a clean end
        var accepting = client.AcceptChannelAsync().AsTask();
        await peer.SendAsync(partial);
        await peer.DisposeAsync(); // FIN in the middle of the frame

        foreach (var pending in new Task[] { reading, accepting })
        {
            var error = await Assert.ThrowsAsync<TcpChanSessionException>(() => pending.WaitAsync(Loopback.Quick));
            Assert.Equal(SessionEndReason.ConnectionLost, error.Reason);
        }

        await client.Completion.WaitAsync(Loopback.Quick);
        Assert.Equal(0, client.OpenChannelCount);
        Assert.NotNull(where);
    }

    [Fact]
    public async Task A_client_that_hangs_up_mid_handshake_does_not_stop_the_server()
    {
        await using var listener = TcpChanListener.Start(Loopback.AnyPort);
        var accepting = listener.AcceptSessionAsync().AsTask();
        using (var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await raw.ConnectAsync(listener.LocalEndPoint);
            await raw.SendAsync(new byte[] { 1, 1, 0xFE }); // half a handshake request, then gone
        }

        await using var good = await TcpChanClient.ConnectAsync(listener.LocalEndPoint).WaitAsync(Loopback.Timeout);
        await using var accepted = await accepting.WaitAsync(Loopback.Timeout);
        Assert.Equal(1, accepted.Version);
        await using var channel = await good.OpenChannelAsync();
        await channel.WriteAsync("still serving"u8.ToArray());
        channel.CompleteWrites();
        await using var far = await accepted.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
        Assert.Equal("still serving"u8.ToArray(), await Loopback.ReadAllAsync(far));
    }

    [Fact]
    public async Task A_peer_that_stops_reading_does_not_make_our_writes_grow_memory()
    {
        // The peer gives a gibibyte of credit and then never reads its socket: only the
        // transport's buffers and the session's unsent limit may hold our bytes.
        var settings = new[]
        {
            new KeyValuePair<byte, uint>((byte)SettingId.InitialChannelWindow, 1u << 30),
            new KeyValuePair<byte, uint>((byte)SettingId.InitialSessionWindow, 1u << 30),
        };
        var (peer, client) = await RawPeer.ConnectAsync(read: false, settings: settings);
        await using var _ = peer;
        await using var __ = client;
        var stream = await client.OpenChannelAsync();
        long accepted = 0;
        using var stop = new CancellationTokenSource();
        var writing = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            while (!stop.IsCancellationRequested)
            {
                await stream.WriteAsync(chunk, stop.Token);
                Interlocked.Add(ref accepted, chunk.Length);
            }
        });

        // Wait until the writer is held back: no progress for a while.
        long last = -1;
        while (Interlocked.Read(ref accepted) != last)
        {
            last = Interlocked.Read(ref accepted);
            Assert.True(last < 256L << 20, $"{last:N0} bytes accepted from a writer whose peer reads nothing");
            await Task.Delay(300);
        }

        Assert.False(writing.IsCompleted);
        Assert.InRange(last, 1, 64L << 20);
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writing.WaitAsync(Loopback.Timeout));
    }
}
