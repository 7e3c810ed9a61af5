using TcpChan.Core;
using TcpChan.Core.Frames;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.V1;

/// <summary>
/// Fair, prioritised sending (Connection.Fill, SendScheduler): channels with data to send take
/// turns, one frame each, most urgent first, however much one of them wrote. A client whose
/// output is pulled (OutputAsEvents false) against a server with windows large enough that
/// credit never decides the order; the tests read the client's frames as they leave.
/// </summary>
public class FairSendingTests
{
    private const int Big = 64 << 20;
    private static readonly int Quantum = new ConnectionOptions().SendQuantum;

    [Fact]
    public void A_small_write_leaves_after_at_most_one_frame_of_a_bulk_channel()
    {
        var link = new PulledLink();
        var bulk = link.Client.CreateChannel();
        var small = link.Client.CreateChannel();
        link.Settle();

        bulk.Write(new byte[Big]);
        small.Write(new byte[100]);
        var frames = link.TakeFrames(maxBytes: 256 * 1024);

        int smallAt = frames.FindIndex(f => f.Channel == small.ChannelId);
        Assert.True(smallAt >= 0, "the small write did not leave in the first 256 KiB");
        Assert.True(frames.Take(smallAt).Count(f => f.Channel == bulk.ChannelId) <= 1, Describe(frames));
    }

    [Fact]
    public void A_small_write_made_while_a_bulk_channel_streams_leaves_after_at_most_one_of_its_frames()
    {
        var link = new PulledLink();
        var bulk = link.Client.CreateChannel();
        var small = link.Client.CreateChannel();
        link.Settle();

        bulk.Write(new byte[Big]);
        for (int i = 0; i < 5; i++)
        {
            Assert.All(link.TakeFrames(maxBytes: 128 * 1024), f => Assert.Equal(bulk.ChannelId, f.Channel));
        }

        small.Write(new byte[100]);
        var frames = link.TakeFrames(maxBytes: 128 * 1024);
        int smallAt = frames.FindIndex(f => f.Channel == small.ChannelId);
        Assert.InRange(smallAt, 0, 1);
    }

    [Fact]
    public void Channels_of_equal_urgency_stay_within_one_frame_of_each_other()
    {
        var link = new PulledLink();
        var channels = Enumerable.Range(0, 4).Select(_ => link.Client.CreateChannel()).ToList();
        link.Settle();
        foreach (var channel in channels)
        {
            channel.Write(new byte[4 << 20]);
        }

        // The first write found nobody waiting and went out as one full frame; from then on the
        // four take turns of SendQuantum bytes. At every frame, the most and the least a channel
        // has sent differ by at most one frame.
        var sent = channels.ToDictionary(c => c.ChannelId, _ => 0L);
        var frames = new List<int>();
        for (int round = 0; round < 40; round++)
        {
            foreach (var frame in link.TakeFrames(maxBytes: 100 * 1024))
            {
                sent[frame.Channel] += frame.Length;
                frames.Add(frame.Length);
                Assert.True(sent.Values.Max() - sent.Values.Min() <= frames.Max(), $"after round {round}: {string.Join(", ", sent.Values)}");
            }
        }

        Assert.Equal(FrameHeader.MaxPayloadLength, frames[0]);
        Assert.All(frames.Skip(1), n => Assert.Equal(Quantum, n));

        Assert.All(sent.Values, v => Assert.True(v > 0));
    }

    [Fact]
    public void A_more_urgent_channel_sends_before_less_urgent_ones()
    {
        var link = new PulledLink();
        var background = link.Client.CreateChannel();
        var urgent = link.Client.CreateChannel();
        urgent.Urgency = 0;
        background.Urgency = 6;
        link.Settle();

        background.Write(new byte[1 << 20]);
        urgent.Write(new byte[300_000]);
        var frames = link.TakeFrames(maxBytes: int.MaxValue);

        // The background channel's first frame went straight out (nobody else waited yet); after
        // that every urgent frame comes before any more of the background's.
        Assert.Equal(background.ChannelId, frames[0].Channel);
        int lastUrgent = frames.FindLastIndex(f => f.Channel == urgent.ChannelId);
        Assert.All(frames.Skip(1).Take(lastUrgent), f => Assert.Equal(urgent.ChannelId, f.Channel));
        Assert.Equal(300_000, frames.Where(f => f.Channel == urgent.ChannelId).Sum(f => f.Length));
        Assert.Equal(1 << 20, frames.Where(f => f.Channel == background.ChannelId).Sum(f => f.Length));
    }

    [Fact]
    public void A_change_of_urgency_takes_effect_at_the_next_frame()
    {
        var link = new PulledLink();
        var a = link.Client.CreateChannel();
        var b = link.Client.CreateChannel();
        a.Urgency = 1;
        b.Urgency = 5;
        link.Settle();
        a.Write(new byte[4 << 20]);
        b.Write(new byte[4 << 20]);
        Assert.All(link.TakeFrames(maxBytes: 200 * 1024).Skip(1), f => Assert.Equal(a.ChannelId, f.Channel));

        b.Urgency = 0;
        var next = link.TakeFrames(maxBytes: 200 * 1024);
        Assert.All(next, f => Assert.Equal(b.ChannelId, f.Channel));

        b.Urgency = 1; // equal again: they take turns
        var turns = link.TakeFrames(maxBytes: 200 * 1024).Select(f => f.Channel).ToList();
        Assert.Contains(a.ChannelId, turns);
        Assert.Contains(b.ChannelId, turns);
        for (int i = 1; i < turns.Count; i++)
        {
            Assert.NotEqual(turns[i - 1], turns[i]);
        }
    }

    [Fact]
    public void Small_writes_of_many_channels_go_straight_out_up_to_one_quantum_in_all()
    {
        // Many channels' requests (an rpc client's) leave in one take without waiting in queues;
        // past a quantum of them, writes queue and take turns as always.
        var link = new PulledLink();
        var channels = Enumerable.Range(0, 300).Select(_ => link.Client.CreateChannel()).ToList();
        link.Settle();
        foreach (var channel in channels)
        {
            channel.Write(new byte[64]);
        }

        Assert.Equal(Quantum / 64, channels.Count(c => c.QueuedBytes == 0));
        Assert.All(channels.Skip(Quantum / 64), c => Assert.Equal(64, c.QueuedBytes));
        var frames = link.TakeFrames(maxBytes: int.MaxValue);
        Assert.Equal(channels.Select(c => c.ChannelId), frames.Select(f => f.Channel));

        // A take starts a new quantum.
        foreach (var channel in channels.Take(10))
        {
            channel.Write(new byte[64]);
            Assert.Equal(0, channel.QueuedBytes);
        }
    }

    [Fact]
    public void A_frame_sent_from_the_writers_buffer_counts_against_the_quantum_small_writes_follow_it_with()
    {
        var link = new PulledLink();
        var a = link.Client.CreateChannel();
        var b = link.Client.CreateChannel();
        link.Settle();
        var owner = new Owner();
        Assert.Equal(Quantum, a.TryWriteReferenced(new byte[Quantum], owner));
        b.Write(new byte[64]); // the quantum is spent: it waits its turn
        Assert.Equal(64, b.QueuedBytes);
    }

    [Fact]
    public void A_large_write_after_one_that_went_straight_out_waits_its_turn()
    {
        var link = new PulledLink();
        var a = link.Client.CreateChannel();
        var b = link.Client.CreateChannel();
        link.Settle();
        a.Write(new byte[100]);
        b.Write(new byte[Quantum]); // more than the quantum left
        Assert.Equal(0, a.QueuedBytes);
        Assert.Equal(Quantum, b.QueuedBytes);
    }

    [Fact]
    public void Urgency_is_0_to_7()
    {
        var link = new PulledLink();
        var channel = link.Client.CreateChannel();
        Assert.Equal(3, channel.Urgency);
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.Urgency = 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.Urgency = -1);
        channel.Urgency = 7;
        Assert.Equal(7, channel.Urgency);
    }

    [Fact]
    public void Queued_data_is_all_delivered_in_order_and_the_end_of_data_follows_it()
    {
        var link = new PulledLink();
        var channels = Enumerable.Range(0, 3).Select(_ => link.Client.CreateChannel()).ToList();
        link.Settle();
        var written = channels.Select((c, i) => Wire.Pattern(700_000 + i * 1000, i)).ToList();
        for (int i = 0; i < channels.Count; i++)
        {
            channels[i].Write(written[i]);
            channels[i].CompleteWrites();
        }

        var received = channels.ToDictionary(c => c.ChannelId, _ => new MemoryStream());
        var ended = new HashSet<uint>();
        for (int guard = 0; guard < 1000 && ended.Count < channels.Count; guard++)
        {
            foreach (var frame in link.TakeFrames(maxBytes: 64 * 1024, keepPayload: true))
            {
                Assert.DoesNotContain(frame.Channel, ended);
                if (frame.Type == FrameType.CloseChannel)
                {
                    ended.Add(frame.Channel);
                }
                else
                {
                    received[frame.Channel].Write(frame.Payload);
                }
            }

            link.DeliverCredit();
        }

        for (int i = 0; i < channels.Count; i++)
        {
            Assert.Equal(written[i], received[channels[i].ChannelId].ToArray());
        }
    }

    [Fact]
    public void Every_take_makes_progress_however_small_its_budget()
    {
        // Found by the fuzzer: a take with a budget under one frame header wrote nothing and
        // left HasOutput true, so a driver taking 5 bytes at a time spun for ever.
        var link = new PulledLink();
        var channel = link.Client.CreateChannel();
        link.Settle();
        channel.Write(new byte[3000]);
        long taken = 0;
        for (int takes = 0; link.Client.HasOutput; takes++)
        {
            Assert.True(takes < 10_000, "no progress");
            taken += link.TakeFrames(maxBytes: 5).Sum(f => f.Length);
        }

        Assert.Equal(3000, taken);
    }

    [Fact]
    public void TryWrite_never_takes_credit_that_other_channels_queued_bytes_spoke_for()
    {
        // Found by the fuzzer: the first frame of a write went straight out with session credit
        // that bytes queued on another channel (waiting for its own credit) had spoken for.
        var link = new PulledLink(new ConnectionOptions { InitialChannelWindow = 1000, SessionReceiveBudget = 3000, AutoTuneWindows = false });
        var a = link.Client.CreateChannel();
        var b = link.Client.CreateChannel();
        link.Settle();
        a.Write(new byte[2500]);     // 1000 go (its window), 1500 wait for its credit
        Assert.Equal(1000, link.TakeFrames(maxBytes: int.MaxValue).Sum(f => f.Length));
        Assert.Equal(500, b.WritableBytes); // 2000 of session credit left, 1500 spoken for
        Assert.Equal(500, b.TryWrite(new byte[2000])); // its first frame goes straight out: 500, not 1000
        Assert.Equal(0, b.WritableBytes);
        Assert.Equal(0, link.Client.SessionSendCredit);
    }

    private static string Describe(List<PulledLink.Frame> frames) => string.Join(" ", frames.Take(12).Select(f => $"{f.Channel}:{f.Length}"));

    private sealed class Owner : IReferencedWrite
    {
        public void Released()
        {
        }
    }
}
