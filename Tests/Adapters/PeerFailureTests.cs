using System.Diagnostics;
using TcpChan.Core;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// A peer that goes silent or breaks the protocol ends the session with the right reason, and
/// every pending operation fails with it, even while the session's sends are stuck.
/// </summary>
public class PeerFailureTests
{
    [Fact]
    public async Task A_silent_peer_that_stopped_reading_ends_the_session_by_keepalive()
    {
        // The peer gives all the credit there is, then reads nothing and says nothing: the
        // client's sends stop in the socket, and only the keepalive can end the session.
        var options = new TcpChanSessionOptions
        {
            Connection = new ConnectionOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(200), KeepAliveTimeout = TimeSpan.FromSeconds(1.5) },
        };
        var (peer, client) = await RawPeer.ConnectAsync(
            options,
            read: false,
            new((byte)SettingId.InitialChannelWindow, int.MaxValue),
            new((byte)SettingId.InitialSessionWindow, int.MaxValue));
        await using var _ = peer;
        await using var __ = client;
        var watch = Stopwatch.StartNew();

        var stream = await client.OpenChannelAsync();
        var writing = Task.Run(async () =>
        {
            var chunk = new byte[1024 * 1024];
            for (int i = 0; i < 256; i++)
            {
                await stream.WriteAsync(chunk);
            }
        });
        var pending = new List<(string What, Task Task)>
        {
            ("write", writing),
            ("read", stream.ReadAsync(new byte[10]).AsTask()),
            ("accept", client.AcceptChannelAsync().AsTask()),
            ("ping", client.PingAsync()),
        };

        await Task.WhenAny(Task.WhenAll(pending.Select(p => p.Task)), Task.Delay(Loopback.Quick));
        foreach (var (what, task) in pending)
        {
            Assert.True(task.IsCompleted, $"{what} still pending after {watch.Elapsed.TotalSeconds:F1} s");
            var error = Assert.IsType<TcpChanSessionException>(task.Exception?.InnerException);
            Assert.Equal(SessionEndReason.KeepAliveTimeout, error.Reason);
        }

        // Over without waiting to flush a go-away the peer would never read.
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(SessionEndReason.KeepAliveTimeout, client.EndError!.Reason);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(4.5));
    }

    [Fact]
    public async Task A_peer_that_breaks_the_protocol_fails_everything_with_ProtocolError()
    {
        var (peer, client) = await RawPeer.ConnectAsync();
        await using var _ = peer;
        await using var __ = client;
        var stream = await client.OpenChannelAsync();
        var pending = new List<(string What, Task Task)>
        {
            ("read", stream.ReadAsync(new byte[10]).AsTask()),
            ("accept", client.AcceptChannelAsync().AsTask()),
            ("ping", client.PingAsync()),
        };

        await peer.SendAsync([1, 99]); // op 99 names no frame
        await client.Completion.WaitAsync(Loopback.Timeout);
        Assert.Equal(SessionEndReason.ProtocolError, client.EndError!.Reason);
        Assert.Equal(ErrorCode.UnknownFrameType, client.EndError.Code);
        foreach (var (what, task) in pending)
        {
            var error = await Assert.ThrowsAsync<TcpChanSessionException>(() => task.WaitAsync(Loopback.Quick));
            Assert.True(error.Reason == SessionEndReason.ProtocolError, $"{what} failed with {error.Reason}");
        }

        var later = await Assert.ThrowsAsync<TcpChanSessionException>(() => stream.WriteAsync(new byte[1]).AsTask());
        Assert.Equal(SessionEndReason.ProtocolError, later.Reason);
    }
}
