using TcpChan.Internal;
using Xunit;

namespace TcpChan.Tests.Internal;

/// <summary>The channel receive buffer (16 KiB segments from a session pool) and the pools behind it.</summary>
public class ReceiveBufferTests
{
    [Fact]
    public void Bytes_come_out_in_order_across_segments_whatever_the_read_sizes()
    {
        var pool = new SegmentPool(1 << 20);
        var buffer = new ReceiveBuffer(pool);
        var data = new byte[100_000];
        new Random(7).NextBytes(data);
        buffer.Write(data.AsSpan(0, 1));
        buffer.Write(data.AsSpan(1, 40_000));
        buffer.Write(data.AsSpan(40_001));
        Assert.Equal(data.Length, buffer.Length);

        var read = new List<byte>();
        var chunk = new byte[777];
        int n;
        while ((n = buffer.Read(chunk)) > 0)
        {
            read.AddRange(chunk.AsSpan(0, n).ToArray());
        }

        Assert.Equal(data, read.ToArray());
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void Segments_read_to_the_end_go_back_to_the_pool()
    {
        var pool = new SegmentPool(1 << 20);
        var buffer = new ReceiveBuffer(pool);
        buffer.Write(new byte[SegmentPool.SegmentSize + 10]);
        Assert.Equal(0, pool.FreeCount);
        Assert.Equal(SegmentPool.SegmentSize, buffer.Read(new byte[SegmentPool.SegmentSize]));
        Assert.Equal(1, pool.FreeCount); // the first segment, read to its end
        Assert.Equal(10, buffer.Read(new byte[100]));
        Assert.Equal(2, pool.FreeCount); // an empty buffer holds nothing
    }

    [Fact]
    public void Clear_drops_what_is_held_and_refuses_later_writes()
    {
        var buffer = new ReceiveBuffer(new SegmentPool(1 << 20));
        buffer.Write(new byte[50_000]);
        buffer.Clear();
        Assert.Equal(0, buffer.Length);
        Assert.False(buffer.TryWrite(new byte[1]));
        Assert.Equal(0, buffer.Read(new byte[10]));
    }

    [Fact]
    public void TakeAll_returns_everything_then_refuses_writes()
    {
        var buffer = new ReceiveBuffer(new SegmentPool(1 << 20));
        var data = new byte[20_000];
        new Random(3).NextBytes(data);
        buffer.Write(data);
        Assert.Equal(data, buffer.TakeAll());
        Assert.False(buffer.TryWrite(new byte[1]));
    }

    [Fact]
    public void An_idle_segment_pool_gives_back_what_it_keeps_above_256_KiB()
    {
        var pool = new SegmentPool(8 << 20);
        var rented = Enumerable.Range(0, 64).Select(_ => pool.Rent()).ToList(); // 1 MiB
        rented.ForEach(pool.Return);
        Assert.Equal(64, pool.FreeCount);
        pool.Trim(); // used since the last tick: keeps everything
        Assert.Equal(64, pool.FreeCount);
        for (int i = 0; i < 10; i++)
        {
            pool.Trim(); // idle ticks: each lets half of what is above 16 segments go
        }

        Assert.Equal(16, pool.FreeCount);
    }

    [Fact]
    public void The_pipe_memory_pool_reuses_its_blocks_and_owners()
    {
        var pool = new SegmentMemoryPool(1 << 20);
        var first = pool.Rent();
        Assert.Equal(SegmentPool.SegmentSize, first.Memory.Length);
        first.Dispose();
        first.Dispose(); // twice is harmless: it is in the pool once
        var second = pool.Rent(100);
        var third = pool.Rent();
        Assert.Same(first, second);
        Assert.NotSame(second, third);

        var large = pool.Rent(SegmentPool.SegmentSize + 1);
        Assert.True(large.Memory.Length > SegmentPool.SegmentSize);
        large.Dispose();
        Assert.NotSame(large, pool.Rent(SegmentPool.SegmentSize + 1));
    }
}
