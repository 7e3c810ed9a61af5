using System.Buffers;
using TcpChan.Internal;
using Xunit;

namespace TcpChan.Tests.Buffers;

/// <summary>
/// A channel's inbox storage (Adapters.Tasks/Channels/InboxBuffer): bytes come out in order,
/// whether copied out or read in place as a sequence, and every block read goes back to the
/// session's pool.
/// </summary>
public class InboxBufferTests
{
    [Fact]
    public void Random_appends_reads_and_skips_match_a_plain_list()
    {
        var random = new Random(54321);
        var pool = new SegmentPool(64 * SegmentPool.SegmentSize);
        var buffer = new InboxBuffer(pool);
        var model = new List<byte>();
        byte next = 0;
        for (int step = 0; step < 5000; step++)
        {
            switch (random.Next(4))
            {
                case 0:
                    var data = new byte[random.Next(0, 3 * SegmentPool.SegmentSize)];
                    for (int i = 0; i < data.Length; i++)
                    {
                        data[i] = next++;
                    }

                    buffer.Append(data);
                    model.AddRange(data);
                    break;
                case 1:
                    var into = new byte[random.Next(0, 2 * SegmentPool.SegmentSize)];
                    int n = buffer.CopyOut(into);
                    Assert.Equal(Math.Min(into.Length, model.Count), n);
                    Assert.Equal(model.GetRange(0, n), into.AsSpan(0, n).ToArray());
                    model.RemoveRange(0, n);
                    break;
                case 2:
                    Assert.Equal(model, buffer.AsSequence().ToArray());
                    break;
                default:
                    int skip = random.Next(0, model.Count + 1);
                    buffer.Skip(skip);
                    model.RemoveRange(0, skip);
                    break;
            }

            Assert.Equal(model.Count, buffer.Length);
        }
    }

    [Fact]
    public void Blocks_go_back_to_the_pool_as_they_are_read()
    {
        var pool = new SegmentPool(64 * SegmentPool.SegmentSize);
        var buffer = new InboxBuffer(pool);
        buffer.Append(new byte[(3 * SegmentPool.SegmentSize) + 1]);
        Assert.Equal(0, pool.FreeCount);

        buffer.Skip(SegmentPool.SegmentSize - 1);
        Assert.Equal(0, pool.FreeCount); // one byte of the first block is still unread

        buffer.CopyOut(new byte[1]);
        Assert.Equal(1, pool.FreeCount);

        buffer.Clear();
        Assert.Equal(4, pool.FreeCount);
        Assert.Equal(0, buffer.Length);
        Assert.True(buffer.AsSequence().IsEmpty);
    }

    [Fact]
    public void A_sequence_spans_blocks_with_consistent_positions()
    {
        var pool = new SegmentPool(64 * SegmentPool.SegmentSize);
        var buffer = new InboxBuffer(pool);
        var data = new byte[(2 * SegmentPool.SegmentSize) + 100];
        new Random(7).NextBytes(data);
        buffer.Append(data);
        buffer.Skip(10);

        var sequence = buffer.AsSequence();
        Assert.Equal(data.Length - 10, sequence.Length);
        Assert.False(sequence.IsSingleSegment);
        var tail = sequence.Slice(SegmentPool.SegmentSize);
        Assert.Equal(data.AsSpan(10 + SegmentPool.SegmentSize).ToArray(), tail.ToArray());
    }
}
