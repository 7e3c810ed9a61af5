using System.IO.Pipelines;
using TcpChan.Internal;

namespace TcpChan;

/// <summary>
/// A channel as an <see cref="IDuplexPipe"/>. <see cref="Input"/> returns what the peer wrote;
/// the peer gets credit back for the bytes the reader <em>consumes</em>, not the ones it only
/// examined, and a reader that has examined everything buffered without consuming (it needs
/// more than a window to make progress) gets a larger window, so it never deadlocks.
/// Completing <see cref="Output"/> ends this side's data; completing either half with an
/// exception resets the channel. A channel's failure never takes the session down.
/// </summary>
public sealed class ChannelPipe : IDuplexPipe
{
    internal ChannelPipe(TcpChanStream stream)
    {
        Stream = stream;
        Stream.Channel.Inbox.AttachPipeView();
        Input = new ChannelPipeReader(this);
        Output = new ChannelPipeWriter(this);
    }

    /// <summary>The channel's stream (its id, label, session; do not read it while this view is in use).</summary>
    public TcpChanStream Stream { get; }

    /// <inheritdoc />
    public PipeReader Input { get; }

    /// <inheritdoc />
    public PipeWriter Output { get; }

    internal StreamChannel Channel => Stream.Channel;

    internal SessionCore Core => Stream.Session.Core;

    internal bool InputCompleted { get; set; }

    internal bool OutputCompleted { get; set; }

    /// <summary>Both halves completed without error: close the channel gracefully. Under the gate.</summary>
    internal void MaybeClose()
    {
        if (InputCompleted && OutputCompleted)
        {
            Channel.Close();
        }
    }

    internal static TcpChan.Core.ErrorCode CodeOf(Exception exception) =>
        exception is TcpChanChannelException { Code: { } code } ? code : TcpChan.Core.ErrorCode.Cancel;
}
