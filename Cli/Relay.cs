using System.Net.Sockets;
using CommunityToolkit.HighPerformance.Buffers;

namespace TcpChan.Cli;

/// <summary>How a relay ended.</summary>
/// <param name="BytesOut">Bytes read from the socket and written to the channel.</param>
/// <param name="BytesIn">Bytes read from the channel and written to the socket.</param>
/// <param name="ChannelError">Why the channel failed (a reset, the session ending), or null.</param>
/// <param name="SocketError">Why the socket failed, or null.</param>
internal sealed record RelayResult(long BytesOut, long BytesIn, TcpChanException? ChannelError, Exception? SocketError)
{
    public bool IsClean => ChannelError is null && SocketError is null;

    /// <summary>The reset code of a channel error, when the channel (not the session) failed.</summary>
    public Core.ErrorCode? ResetCode => (ChannelError as TcpChanChannelException)?.Code;
}

/// <summary>
/// Relays a TCP socket and a channel both ways with half-close honoured: when one side's data
/// ends, the other side's writes are ended (<see cref="TcpChanStream.CompleteWrites"/> or
/// <see cref="Socket.Shutdown"/>) and the other direction goes on until it ends too. When
/// either side fails, both are torn down: the channel reset, the socket closed with a TCP reset.
/// </summary>
internal static class Relay
{
    private const int BufferSize = 64 * 1024;

    /// <summary>
    /// Connects to <paramref name="target"/> for <paramref name="channel"/> and relays the two
    /// (counted as an open channel meanwhile); null when the target cannot be reached: the
    /// channel is reset with <see cref="TunnelError.TargetUnreachable"/> after <paramref name="unreachable"/> is told why.
    /// </summary>
    public static async Task<RelayResult?> ConnectAndRunAsync(TcpChanStream channel, HostPort target, Counters counters, Action<Exception> unreachable, CancellationToken connecting)
    {
        Socket socket;
        try
        {
            socket = await Net.ConnectAsync(target, Net.ConnectTimeout, connecting).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or OperationCanceledException)
        {
            unreachable(ex);
            channel.Abort(TunnelError.TargetUnreachable.Code());
            return null;
        }

        counters.ChannelOpened();
        try
        {
            return await RunAsync(socket, channel, counters, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            counters.ChannelClosed();
        }
    }

    public static async Task<RelayResult> RunAsync(Socket socket, TcpChanStream channel, Counters counters, CancellationToken cancellationToken)
    {
        var state = new State(socket, channel);
        using var registration = cancellationToken.Register(() => state.Fail(null, new OperationCanceledException("Stopped.")));
        await Task.WhenAll(SocketToChannelAsync(state, counters), ChannelToSocketAsync(state, counters)).ConfigureAwait(false);
        if (state.SocketError is null && state.ChannelError is null)
        {
            // Both directions ended cleanly: the channel is complete; close it and the socket.
            await channel.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
        }

        return new RelayResult(state.BytesOut, state.BytesIn, state.ChannelError, state.SocketError);
    }

    private static async Task SocketToChannelAsync(State state, Counters counters)
    {
        // A pooled buffer, handed back when the loop ends.
        using var buffer = MemoryOwner<byte>.Allocate(BufferSize);
        while (true)
        {
            int n;
            try
            {
                n = await state.Socket.ReceiveAsync(buffer.Memory, SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                state.Fail(null, ex);
                return;
            }

            if (n == 0)
            {
                state.Channel.CompleteWrites();
                return;
            }

            try
            {
                await state.Channel.WriteAsync(buffer.Memory[..n]).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsChannelFailure(ex))
            {
                state.FailOnChannel(ex);
                return;
            }

            Interlocked.Add(ref state.BytesOut, n);
            counters.AddOut(n);
        }
    }

    private static async Task ChannelToSocketAsync(State state, Counters counters)
    {
        // A pooled buffer, handed back when the loop ends.
        using var buffer = MemoryOwner<byte>.Allocate(BufferSize);
        while (true)
        {
            int n;
            try
            {
                n = await state.Channel.ReadAsync(buffer.Memory).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsChannelFailure(ex))
            {
                state.FailOnChannel(ex);
                return;
            }

            try
            {
                if (n == 0)
                {
                    state.Socket.Shutdown(SocketShutdown.Send);
                    return;
                }

                await SendAllAsync(state.Socket, buffer.Memory[..n]).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                state.Fail(null, ex);
                return;
            }

            Interlocked.Add(ref state.BytesIn, n);
            counters.AddIn(n);
        }
    }

    /// <summary>What a channel read or write throws when the channel failed, or when the other direction tore it down (disposed, writes completed).</summary>
    private static bool IsChannelFailure(Exception ex) => ex is TcpChanException or ObjectDisposedException or InvalidOperationException;

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data.Slice(n);
        }
    }

    /// <summary>Closes a socket with a TCP reset rather than a clean end, so that its peer sees an error.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    private sealed class State(Socket socket, TcpChanStream channel)
    {
        private int _failed;
        public long BytesOut;
        public long BytesIn;

        public Socket Socket { get; } = socket;

        public TcpChanStream Channel { get; } = channel;

        public TcpChanException? ChannelError { get; private set; }

        public Exception? SocketError { get; private set; }

        /// <summary>The first failure tears down both sides; later ones are consequences.</summary>
        /// <summary>Fails the relay for what a channel read or write threw (see <see cref="IsChannelFailure"/>).</summary>
        public void FailOnChannel(Exception ex)
        {
            if (ex is TcpChanException channelError)
            {
                Fail(channelError, null);
            }
            else
            {
                Fail(null, ex);
            }
        }

        public void Fail(TcpChanException? channelError, Exception? socketError)
        {
            if (Interlocked.Exchange(ref _failed, 1) != 0)
            {
                return;
            }

            ChannelError = channelError;
            SocketError = socketError;
            Channel.Abort();
            Reset(Socket);
        }
    }
}
