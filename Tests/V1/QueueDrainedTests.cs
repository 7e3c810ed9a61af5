using TcpChan.Core;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.V1;

/// <summary>
/// A channel hears (OnWritable) when every byte its writes left queued has been taken for
/// sending, not only when credit comes back: with fair sending, bytes wait for their turn with
/// credit to spare, and a writer that counts what left (an echo that gives credit back only for
/// bytes it sent on) would otherwise wait for ever.
/// </summary>
public class QueueDrainedTests
{
    [Fact]
    public void A_channel_whose_queued_bytes_were_all_taken_hears_it_once()
    {
        var link = new PulledLink();
        var bulk = (TestChannel)link.Client.CreateChannel();
        var small = (TestChannel)link.Client.CreateChannel();
        link.Settle();

        bulk.Write(new byte[8 << 20]);
        small.Write(new byte[100]); // waits for its turn behind the bulk channel's first frame
        Assert.Equal(100, small.QueuedBytes);
        Assert.True(small.WritableBytes > 0); // credit never ran short
        Assert.Equal(0, small.WritableCalls);

        var frames = link.TakeFrames(maxBytes: 256 * 1024);
        Assert.Contains(frames, f => f.Channel == small.ChannelId);
        Assert.Equal(0, small.QueuedBytes);
        Assert.Equal(1, small.WritableCalls);
        Assert.Equal(0, bulk.WritableCalls); // still queued

        link.TakeFrames(maxBytes: 256 * 1024);
        Assert.Equal(1, small.WritableCalls);
    }

    [Fact]
    public void A_write_that_went_straight_out_does_not_report_a_drain()
    {
        var link = new PulledLink();
        var channel = (TestChannel)link.Client.CreateChannel();
        link.Settle();

        channel.Write(new byte[1000]); // one frame, straight into the output
        Assert.Equal(0, channel.QueuedBytes);
        link.TakeFrames(maxBytes: int.MaxValue);
        Assert.Equal(0, channel.WritableCalls);
    }

    [Fact]
    public void Bytes_a_drained_channel_writes_from_OnWritable_leave_in_the_next_take()
    {
        var link = new PulledLink();
        var bulk = link.Client.CreateChannel();
        var refill = new RefillChannel(rounds: 3);
        link.ClientChannels = () => refill;
        link.Client.CreateChannel();
        link.Settle();

        bulk.Write(new byte[8 << 20]);
        refill.Write(new byte[100]);
        int refillBytes = 0;
        for (int take = 0; take < 200 && refill.Rounds > 0; take++)
        {
            refillBytes += link.TakeFrames(maxBytes: 64 * 1024).Where(f => f.Channel == refill.ChannelId).Sum(f => f.Length);
        }

        refillBytes += link.TakeFrames(maxBytes: 64 * 1024).Where(f => f.Channel == refill.ChannelId).Sum(f => f.Length);
        Assert.Equal(0, refill.Rounds);
        Assert.Equal(400, refillBytes);
    }

    /// <summary>
    /// The benchmarks' echo (found as a hang in the mixed workload): the server writes back what
    /// arrives and consumes, so gives credit back, only for bytes that left. Three channels send
    /// 16 times the session budget between them; everything must come back.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_echo_that_consumes_what_it_sent_on_never_stalls(bool serverOutputAsEvents)
    {
        var serverOptions = new ConnectionOptions { InitialChannelWindow = 64 << 10, SessionReceiveBudget = 256 << 10, AutoTuneWindows = false };
        var client = new ClientConnection(() => new TestChannel());
        var server = new ServerConnection(() => new EchoWhatLeft(), serverOptions) { OutputAsEvents = serverOutputAsEvents };
        server.ConnectionEstablished();
        client.ConnectionEstablished();
        Exchange(client, server);

        const int PerChannel = 1 << 20;
        var channels = new List<TestChannel>();
        for (int i = 0; i < 3; i++)
        {
            channels.Add((TestChannel)client.CreateChannel());
        }

        var data = Wire.Pattern(PerChannel, 7);
        foreach (var channel in channels)
        {
            channel.Write(data);
        }

        Exchange(client, server);
        foreach (var channel in channels)
        {
            Assert.Equal(PerChannel, channel.Received.Length);
        }
    }

    /// <summary>Delivers output both ways (events or pulled, whichever each side uses) until both are quiet.</summary>
    private static void Exchange(Connection a, Connection b)
    {
        for (int guard = 0; guard < 100_000; guard++)
        {
            bool moved = Move(a, b) | Move(b, a);
            if (!moved)
            {
                return;
            }
        }

        Assert.Fail("no end to the exchange");
    }

    private static bool Move(Connection from, Connection to)
    {
        bool moved = false;
        if (!from.OutputAsEvents)
        {
            while (from.TakeOutput(64 << 10) is { } taken)
            {
                to.DataReceived(taken.Payload.Span);
                taken.Dispose();
                moved = true;
            }
        }

        while (from.NextEvent() is { } e)
        {
            if (e is DataTransmit transmit)
            {
                to.DataReceived(transmit.Payload.Span);
                transmit.Dispose();
                moved = true;
            }
        }

        return moved;
    }

    /// <summary>Writes another 100 bytes each time its queue has drained, <c>rounds</c> times.</summary>
    private sealed class RefillChannel(int rounds) : Channel
    {
        public int Rounds { get; private set; } = rounds;

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
        }

        protected override void OnWritable()
        {
            if (Rounds > 0 && QueuedBytes == 0)
            {
                Rounds--;
                Write(new byte[100]);
            }
        }
    }

    /// <summary>Echoes with Write and consumes only what has left its queue (Bench's EchoChannel).</summary>
    private sealed class EchoWhatLeft() : Channel(autoConsume: false)
    {
        private long _held;

        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            Write(data);
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
    }
}
