using System.Buffers;

namespace TcpChan.Internal;

/// <summary>
/// A transport that can hand the driver its received bytes in place (a pipe's
/// <see cref="ReadOnlySequence{T}"/>), so nothing is copied on the way into the core.
/// </summary>
internal interface ISequenceTransport
{
    /// <summary>Waits for data and calls <paramref name="deliver"/> with all of it, once; false at end of stream.</summary>
    ValueTask<bool> ReceiveAsync(Action<ReadOnlySequence<byte>> deliver, CancellationToken cancellationToken);
}
