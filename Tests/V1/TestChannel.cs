using TcpChan.Core;

namespace TcpChan.Tests.V1;

/// <summary>Records what arrives; with autoConsume false it holds bytes until the test consumes them.</summary>
public sealed class TestChannel : Channel, TcpChan.Tests.Support.IChannelLife
{
    public TestChannel(bool autoConsume = true, bool echo = false)
        : base(autoConsume)
    {
        Echo = echo;
    }

    public bool Echo { get; }

    public MemoryStream Received { get; } = new();

    public long Held { get; private set; }

    public bool EndOfData { get; private set; }

    public int WritableCalls { get; private set; }

    public ChannelCloseReason? ClosedWith { get; private set; }

    public void ConsumeAll() => ConsumeUpTo(long.MaxValue);

    public void ConsumeUpTo(long max)
    {
        int n = (int)Math.Min(Held, max);
        if (n > 0)
        {
            Held -= n;
            Consume(n);
        }
    }

    protected override void DataReceived(ReadOnlySpan<byte> data)
    {
        Received.Write(data);
        if (!AutoConsume)
        {
            Held += data.Length;
        }

        if (Echo)
        {
            Write(data);
        }
    }

    protected override void OnEndOfData()
    {
        EndOfData = true;
        if (Echo)
        {
            CompleteWrites();
        }
    }

    protected override void OnWritable() => WritableCalls++;

    public void Created()
    {
    }

    public void Closed(ChannelCloseReason reason) => ClosedWith = reason;
}
