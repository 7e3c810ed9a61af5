using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>A channel of the callback rows, told by its protocol when it opens and closes (the core reports both as connection events).</summary>
internal abstract class BenchChannel : Channel
{
    protected BenchChannel(bool autoConsume = true)
        : base(autoConsume)
    {
    }

    public virtual void Created()
    {
    }

    public virtual void Closed(ChannelCloseReason reason)
    {
    }
}
