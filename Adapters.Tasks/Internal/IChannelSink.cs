namespace TcpChan.Internal;

/// <summary>A view of a channel that takes its received data itself (the pipe adapter's reader).</summary>
internal interface IChannelSink
{
    /// <summary>Bytes arrived (under the driver's gate; copy them).</summary>
    void OnData(ReadOnlySpan<byte> data);

    /// <summary>No more data will arrive: a clean end when <paramref name="failure"/> is null. May be called more than once.</summary>
    void OnEnd(Exception? failure);
}
