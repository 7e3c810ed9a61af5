using TcpChan.Core;

namespace TcpChan.Tests.Support;

/// <summary>A callback that sees the span a channel was given.</summary>
public delegate void SpanAction(ReadOnlySpan<byte> data);

/// <summary>
/// A channel that records what happens to it: the bytes it received (in order), how often
/// each callback ran, and why it closed. Optionally echoes what it receives, and lets a test
/// hook each callback (to throw, write, close, or inspect the span).
/// </summary>
public class RecordingChannel : Channel, IChannelLife
{
    private readonly MemoryStream _received = new();

    /// <summary>Write every received chunk straight back on this channel.</summary>
    public bool Echo { get; set; }

    /// <summary>Runs first in <see cref="DataReceived(ReadOnlySpan{byte})"/>, with the span as given; may throw.</summary>
    public SpanAction? OnData { get; set; }

    /// <summary>Runs in <see cref="Created"/> (the driver took the channel's ChannelCreated) after counting; may throw.</summary>
    public Action<RecordingChannel>? OnCreatedAction { get; set; }

    /// <summary>Runs in <see cref="Closed"/> (the driver took the channel's ChannelClosed) after counting; may throw.</summary>
    public Action<RecordingChannel, ChannelCloseReason>? OnClosedAction { get; set; }

    public int CreatedCount { get; private set; }

    public int ClosedCount { get; private set; }

    /// <summary>How many times <see cref="DataReceived(ReadOnlySpan{byte})"/> ran.</summary>
    public int DataCallCount { get; private set; }

    public List<ChannelCloseReason> CloseReasons { get; } = new();

    /// <summary>A copy of every byte received so far.</summary>
    public byte[] Received => _received.ToArray();

    public long ReceivedLength => _received.Length;

    public void Created()
    {
        CreatedCount++;
        OnCreatedAction?.Invoke(this);
    }

    protected override void DataReceived(ReadOnlySpan<byte> data)
    {
        DataCallCount++;
        OnData?.Invoke(data);
        _received.Write(data);
        if (Echo)
        {
            Write(data);
        }
    }

    public void Closed(ChannelCloseReason reason)
    {
        ClosedCount++;
        CloseReasons.Add(reason);
        OnClosedAction?.Invoke(this, reason);
    }
}
