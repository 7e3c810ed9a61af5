using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// The peer dies mid-transfer: every pending operation fails with ConnectionLost within a
/// bound, nothing is left hanging, later operations fail the same way at once, and the
/// session completes.
/// </summary>
public class PeerKilledTests
{
    private const int ChannelCount = 20;
    private const int Window = 256 * 1024;

    [Fact]
    public async Task A_reset_by_the_peer_fails_every_pending_operation()
    {
        var (peer, client) = await RawPeer.ConnectAsync();
        await using var _ = peer;
        await using var __ = client;
        var pending = await StartPendingAsync(client, pingPending: true);

        var opening = Task.Run(() => client.OpenChannelAsync("racing the reset"));
        var watch = Stopwatch.StartNew();
        peer.Reset();
        await AssertAllLostAsync(client, pending, watch);

        // Opened before the reset was seen, or refused after: either way it ends with the session.
        var raced = await Record.ExceptionAsync(async () =>
        {
            var stream = await opening.WaitAsync(Loopback.Quick);
            await stream.ReadAsync(new byte[1]).AsTask().WaitAsync(Loopback.Quick);
        });
        AssertLost(raced);
    }

    [Fact]
    public async Task A_server_whose_socket_is_reset_under_it_fails_both_sides()
    {
        var (clientSocket, serverSocket) = await Loopback.SocketPairAsync();
        var accepting = TcpChanSession.AcceptAsync(new SocketTransport(serverSocket));
        await using var client = await TcpChanSession.ConnectAsync(new SocketTransport(clientSocket)).WaitAsync(Loopback.Timeout);
        await using var server = await accepting.WaitAsync(Loopback.Timeout);

        // The server accepts the channels and never reads them: the client's writes stop on credit.
        var accepted = new List<TcpChanStream>();
        var pending = await StartPendingAsync(client, pingPending: false, async () =>
        {
            for (int i = 0; i < ChannelCount; i++)
            {
                accepted.Add(await server.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Timeout));
            }
        });
        var serverAccept = server.AcceptChannelAsync().AsTask();

        var watch = Stopwatch.StartNew();
        serverSocket.LingerState = new LingerOption(true, 0);
        serverSocket.Close();
        await AssertAllLostAsync(client, pending, watch);
        await AssertAllLostAsync(server, [("server accept", serverAccept)], watch);
        foreach (var stream in accepted)
        {
            // What the server held unread is gone with the session: no silent end of stream.
            AssertLost(await Record.ExceptionAsync(() => stream.ReadAsync(new byte[1]).AsTask()));
        }
    }

    [PythonFact]
    public async Task A_peer_process_that_is_killed_fails_every_pending_operation()
    {
        using var peer = PythonPeer.Start();
        await using var client = await TcpChanClient.ConnectAsync(peer.EndPoint).WaitAsync(Loopback.Timeout);
        Assert.Equal(1, client.Version);
        var pending = await StartPendingAsync(client, pingPending: true);

        var watch = Stopwatch.StartNew();
        peer.Kill();
        await AssertAllLostAsync(client, pending, watch);
    }

    /// <summary>
    /// Opens channels whose reads wait for data that never comes and whose 1 MB writes stop on
    /// the peer's credit, plus an accept (and a ping, if the peer answers none) that wait
    /// forever; returns once every write has spent its channel's credit.
    /// </summary>
    private static async Task<List<(string What, Task Task)>> StartPendingAsync(TcpChanSession session, bool pingPending, Func<Task>? acceptOnPeer = null)
    {
        var pending = new List<(string What, Task Task)>();
        var streams = new List<TcpChanStream>();
        var accepting = acceptOnPeer?.Invoke();
        for (int i = 0; i < ChannelCount; i++)
        {
            var stream = await session.OpenChannelAsync($"c{i}").WaitAsync(Loopback.Timeout);
            streams.Add(stream);
            pending.Add(($"read {i}", stream.ReadAsync(new byte[1024]).AsTask()));
            pending.Add(($"write {i}", stream.WriteAsync(new byte[1024 * 1024]).AsTask()));
        }

        if (accepting is not null)
        {
            await accepting.WaitAsync(Loopback.Timeout);
        }

        pending.Add(("accept", session.AcceptChannelAsync().AsTask()));
        if (pingPending)
        {
            pending.Add(("ping", session.PingAsync()));
        }

        await Loopback.UntilAsync(() => streams.All(s => WritableBytes(s) == 0), "the writes spent the peer's credit");
        Assert.All(pending, p => Assert.False(p.Task.IsCompleted, $"{p.What} completed before the peer died"));
        return pending;
    }

    private static long WritableBytes(TcpChanStream stream)
    {
        lock (stream.Session.Core.Gate)
        {
            return stream.Channel.WritableBytes;
        }
    }

    private static async Task AssertAllLostAsync(TcpChanSession session, List<(string What, Task Task)> pending, Stopwatch watch)
    {
        // Every one of them fails, within the bound, none hangs.
        await Task.WhenAny(Task.WhenAll(pending.Select(p => p.Task)), Task.Delay(Loopback.Quick));
        Assert.All(pending, p => Assert.True(p.Task.IsCompleted, $"{p.What} still pending {watch.Elapsed.TotalSeconds:F1} s after the peer died"));
        foreach (var (what, task) in pending)
        {
            AssertLost(task.Exception?.InnerException ?? new Exception($"{what} succeeded"));
        }

        await session.Completion.WaitAsync(Loopback.Quick);
        Assert.Equal(SessionEndReason.ConnectionLost, session.EndError!.Reason);
        Assert.Equal(0, session.OpenChannelCount);

        // Later operations fail the same way, at once.
        AssertLost(await Record.ExceptionAsync(() => session.OpenChannelAsync()));
        AssertLost(await Record.ExceptionAsync(() => session.AcceptChannelAsync().AsTask().WaitAsync(Loopback.Quick)));
        AssertLost(await Record.ExceptionAsync(() => session.PingAsync().WaitAsync(Loopback.Quick)));
    }

    private static void AssertLost(Exception? error)
    {
        var lost = Assert.IsType<TcpChanSessionException>(error);
        Assert.Equal(SessionEndReason.ConnectionLost, lost.Reason);
    }
}
