using System.Net.Sockets;
using System.Text;
using TcpChan.Core;
using TcpChan.Tests.Cli;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// A client pointed at a server that is not TcpChan, over loopback: one that says nothing (an
/// HTTP server waiting for a request line, a silent TCP server) fails after the reply timeout,
/// one that sends its own protocol's bytes (an SSH banner) fails on them at once; the message
/// says the server did not answer as TcpChan, and what it sent.
/// </summary>
public class NotTcpChanPeerTests
{
    private const string SshBanner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

    private static TcpChanSessionOptions ReplyTimeout(TimeSpan? reply, TimeSpan? whole = null) =>
        new() { Connection = new ConnectionOptions { HandshakeReplyTimeout = reply, HandshakeTimeout = whole } };

    [Fact]
    public async Task A_client_of_an_http_server_fails_after_the_reply_timeout_saying_nothing_came_back()
    {
        await using var http = await HttpTarget.StartAsync();
        var error = await Assert.ThrowsAsync<TcpChanSessionException>(
            () => TcpChanClient.ConnectAsync("127.0.0.1", http.Port, ReplyTimeout(TimeSpan.FromSeconds(0.5))).WaitAsync(Loopback.Timeout));

        Assert.Equal(SessionEndReason.HandshakeFailed, error.Reason);
        Assert.Contains("The server did not answer as TcpChan: nothing came back within 0.5 s of the handshake request", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_of_a_silent_tcp_server_fails_after_the_reply_timeout()
    {
        await using var server = BannerServer.Start(_ => Task.CompletedTask);
        var error = await Assert.ThrowsAsync<TcpChanSessionException>(
            () => TcpChanClient.ConnectAsync(server.EndPoint, ReplyTimeout(TimeSpan.FromSeconds(0.3))).WaitAsync(Loopback.Timeout));

        Assert.Equal(SessionEndReason.HandshakeFailed, error.Reason);
        Assert.Contains("nothing came back within 0.3 s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_of_an_ssh_server_fails_on_its_banner_with_the_banner_in_the_message()
    {
        // No timer at all: only the bytes can fail this handshake.
        await using var server = BannerServer.Start(stream => stream.WriteAsync(Encoding.ASCII.GetBytes(SshBanner)).AsTask());
        var error = await Assert.ThrowsAsync<TcpChanSessionException>(
            () => TcpChanClient.ConnectAsync(server.EndPoint, ReplyTimeout(null)).WaitAsync(Loopback.Timeout));

        Assert.Equal(SessionEndReason.HandshakeFailed, error.Reason);
        Assert.Contains(
            $"The server did not answer as TcpChan: it sent {SshBanner.Length} bytes, 53 53 48 2D 32 2E 30 2D 4F 70 65 6E 53 53 48 5F ... (\"SSH-2.0-OpenSSH_\" ...).",
            error.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_protocol_client_of_an_ssh_server_is_told_in_HandshakeFailed()
    {
        await using var server = BannerServer.Start(stream => stream.WriteAsync(Encoding.ASCII.GetBytes(SshBanner)).AsTask());
        var client = new FailureRecordingClient(ReplyTimeout(null));
        await TcpChanClient.RunAsync(server.EndPoint, client).WaitAsync(Loopback.Timeout);

        Assert.StartsWith("The server did not answer as TcpChan: it sent ", client.HandshakeFailure, StringComparison.Ordinal);
        Assert.Equal(SessionEndReason.HandshakeFailed, client.EndReason);
    }

    private sealed class FailureRecordingClient(TcpChanSessionOptions options) : TcpChanClientProtocol(() => new NullChannel(), options)
    {
        public string? HandshakeFailure { get; private set; }

        public SessionEndReason? EndReason { get; private set; }

        public override void HandshakeFailed(string reason) => HandshakeFailure ??= reason;

        public override void ConnectionLost(TcpChanSessionException error) => EndReason = error.Reason;
    }

    private sealed class NullChannel : Channel
    {
        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
        }
    }
}
