namespace TcpChan;

/// <summary>Channels of a <see cref="TcpChanSession"/> as <see cref="System.IO.Pipelines.IDuplexPipe"/>s.</summary>
public static class TcpChanPipeExtensions
{
    /// <summary>
    /// The channel as a pipe. Call once, before reading the stream; from then on read only
    /// through the pipe (bytes that arrived before are in it).
    /// </summary>
    public static ChannelPipe AsDuplexPipe(this TcpChanStream stream) => new(stream ?? throw new ArgumentNullException(nameof(stream)));

    /// <summary>Opens a channel as a pipe (see <see cref="TcpChanSession.OpenChannelAsync(string?, CancellationToken)"/>).</summary>
    public static async Task<ChannelPipe> OpenPipeAsync(this TcpChanSession session, string? label = null, CancellationToken cancellationToken = default) =>
        (await session.OpenChannelAsync(label, cancellationToken).ConfigureAwait(false)).AsDuplexPipe();

    /// <summary>Accepts the peer's next channel as a pipe (see <see cref="TcpChanSession.AcceptChannelAsync"/>).</summary>
    public static async ValueTask<ChannelPipe> AcceptPipeAsync(this TcpChanSession session, CancellationToken cancellationToken = default) =>
        (await session.AcceptChannelAsync(cancellationToken).ConfigureAwait(false)).AsDuplexPipe();
}
