using TcpChan.Core.Flow;
using Xunit;

namespace TcpChan.Tests.Buffers;

/// <summary>
/// A channel's send queue (Core/Flow/ByteQueue): bytes leave in the order they came, across
/// block boundaries, and blocks go back to the pool as soon as their bytes have left.
/// </summary>
public class ByteQueueTests
{
    [Fact]
    public void Random_enqueues_copies_and_dequeues_match_a_plain_list()
    {
        var random = new Random(12345);
        var queue = new ByteQueue(new BlockPool(keep: 4));
        var model = new List<byte>();
        byte next = 0;
        for (int step = 0; step < 5000; step++)
        {
            switch (random.Next(3))
            {
                case 0:
                    var data = new byte[random.Next(0, 3 * ByteQueue.BlockSize)];
                    for (int i = 0; i < data.Length; i++)
                    {
                        data[i] = next++;
                    }

                    queue.Enqueue(data);
                    model.AddRange(data);
                    break;
                case 1:
                    var copy = new byte[random.Next(0, model.Count + 1)];
                    queue.CopyTo(copy);
                    Assert.Equal(model.GetRange(0, copy.Length), copy);
                    break;
                default:
                    int n = random.Next(0, model.Count + 1);
                    queue.Dequeue(n);
                    model.RemoveRange(0, n);
                    break;
            }

            Assert.Equal(model.Count, queue.Length);
            Assert.Equal(model.Count == 0, queue.IsEmpty);

            // Never more blocks than the bytes need, plus a partly read first and a partly filled last.
            Assert.True(queue.BlockCount <= (model.Count / ByteQueue.BlockSize) + 2, $"{queue.BlockCount} blocks for {model.Count} bytes");
        }
    }

    [Fact]
    public void An_emptied_queue_holds_no_block_and_its_pool_keeps_only_what_it_may()
    {
        var pool = new BlockPool(keep: 4);
        var queue = new ByteQueue(pool);
        queue.Enqueue(new byte[(5 * ByteQueue.BlockSize) + 7]);
        Assert.Equal(6, queue.BlockCount);

        queue.Dequeue(ByteQueue.BlockSize + 1);
        Assert.Equal(5, queue.BlockCount);
        Assert.Equal(1, pool.FreeCount);

        queue.Dequeue(queue.Length);
        Assert.Equal(0, queue.BlockCount);
        Assert.True(queue.IsEmpty);
        Assert.Equal(4, pool.FreeCount); // six blocks back, four kept

        pool.Clear();
        Assert.Equal(0, pool.FreeCount);

        queue.Enqueue(new byte[10]);
        queue.Clear();
        Assert.Equal(0, queue.BlockCount);
        Assert.Equal(0, queue.Length);
    }

    [Fact]
    public void Taking_more_than_is_queued_throws_and_changes_nothing()
    {
        var queue = new ByteQueue(new BlockPool(keep: 4));
        queue.Enqueue([1, 2, 3]);

        Assert.Throws<ArgumentOutOfRangeException>(() => queue.Dequeue(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => queue.CopyTo(new byte[4]));

        var all = new byte[3];
        queue.CopyTo(all);
        Assert.Equal(new byte[] { 1, 2, 3 }, all);
    }
}
