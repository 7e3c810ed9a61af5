using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// A writer that waits for credit is woken when it can write again, even when its channel's
/// credit arrived while the session's was spent: in the core (the first test) and for a
/// stream's writer (the second).
/// </summary>
public class WritableWakeupTests
{
    private const int Window = 64 * 1024;

    private static ConnectionOptions SmallWindows => new()
    {
        InitialChannelWindow = Window,
        SessionReceiveBudget = 2 * Window,
        AutoTuneWindows = false,
    };

    [Fact]
    public void Core_raises_OnWritable_when_channel_credit_came_while_the_session_credit_was_spent()
    {
        var client = new ClientConnection(_ => new CreditChannel());
        var server = new ServerConnection(_ => new CreditChannel(), SmallWindows);
        server.ConnectionEstablished();
        client.ConnectionEstablished();
        Pump(client, server);
        var a = (CreditChannel)client.CreateChannel("a");
        var b = (CreditChannel)client.CreateChannel("b");
        Pump(client, server);

        // A spends its channel credit (the session has a window left); B spends the session's.
        var chunk = new byte[Window];
        Assert.Equal(Window, a.TryWrite(chunk));
        Assert.Equal(0, a.TryWrite(chunk));
        Assert.Equal(Window, b.TryWrite(chunk));
        Assert.Equal(0, client.SessionSendCredit);
        Pump(client, server);
        int before = a.WritableCalls; // its queued frames leaving said so (the queue drained)

        // The server consumes A's bytes: A's window update, then the session's, arrive.
        var serverA = (CreditChannel)server.GetChannel(a.ChannelId)!;
        serverA.Take(Window);
        Pump(client, server);

        Assert.Equal(Window, a.WritableBytes);
        Assert.Equal(before + 1, a.WritableCalls); // the credit
    }

    [Fact]
    public async Task A_stream_writer_is_woken_when_its_channel_credit_came_while_the_session_credit_was_spent()
    {
        var server = new TcpChanSessionOptions { Connection = SmallWindows };
        await using var pair = await Loopback.PairAsync(server: server);
        var a = await pair.Client.OpenChannelAsync("a");
        var b = await pair.Client.OpenChannelAsync("b");

        // A's write stops on its channel credit with session credit left; B's spends the session's.
        var writingA = a.WriteAsync(new byte[Window + 1]).AsTask();
        await Loopback.UntilAsync(() => StreamSemanticsTests.WritableBytes(a) == 0, "A spent its channel credit");
        var writingB = b.WriteAsync(new byte[Window + 1]).AsTask();
        await Loopback.UntilAsync(() => StreamSemanticsTests.WritableBytes(b) == 0, "B spent the session credit");
        Assert.False(writingA.IsCompleted);

        // The server reads A's bytes only: A's credit comes back, then the session's. A's last byte goes.
        var serverA = await AcceptAsync(pair.Server, "a");
        Assert.Equal(Window, (await Loopback.ReadExactlyAsync(serverA, Window)).Length);
        await writingA.WaitAsync(Loopback.Timeout);
        Assert.Single(await Loopback.ReadExactlyAsync(serverA, 1));
        Assert.False(writingB.IsCompleted);
    }

    private static async Task<TcpChanStream> AcceptAsync(TcpChanSession session, string label)
    {
        while (true)
        {
            var stream = await session.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout);
            if (stream.Label == label)
            {
                return stream;
            }
        }
    }

    private static void Pump(Connection a, Connection b)
    {
        for (bool moved = true; moved;)
        {
            moved = false;
            foreach (var (from, to) in new[] { (a, b), (b, a) })
            {
                while (from.NextEvent() is { } e)
                {
                    if (e is DataTransmit transmit)
                    {
                        to.DataReceived(transmit.Payload.Span);
                        transmit.Dispose();
                        moved = true;
                    }
                }
            }
        }
    }

    /// <summary>Counts OnWritable; consumes only when told.</summary>
    private sealed class CreditChannel : Channel
    {
        public CreditChannel()
            : base(autoConsume: false)
        {
        }

        public int WritableCalls { get; private set; }

        public void Take(int count) => Consume(count);

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
        }

        protected override void OnWritable() => WritableCalls++;
    }
}
