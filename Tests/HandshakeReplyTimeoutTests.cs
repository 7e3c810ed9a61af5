using System.Text;
using FsCheck;
using FsCheck.Xunit;
using TcpChan.Core;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests;

/// <summary>
/// A client whose peer is not TcpChan fails within <see cref="ConnectionOptions.HandshakeReplyTimeout"/>
/// (10 s) with a message that says so and shows what the peer sent; a genuine server that is slow
/// has the whole <see cref="ConnectionOptions.HandshakeTimeout"/> (30 s) once its reply has come.
/// All on a virtual clock.
/// </summary>
public class HandshakeReplyTimeoutTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(100);

    private static ClientConnection StartedClient(ConnectionOptions? options = null)
    {
        var client = new ClientConnection(() => new RecordingChannel(), options);
        client.ConnectionEstablished(T0);
        Assert.NotEmpty(Transmitted(client)); // the request
        return client;
    }

    [Fact]
    public void A_silent_server_fails_the_handshake_after_10_s_as_not_TcpChan()
    {
        var client = StartedClient();
        Assert.Equal(T0 + TimeSpan.FromSeconds(10), client.NextDeadline);

        client.HandleTimeout(T0 + TimeSpan.FromSeconds(9.999));
        Assert.Null(client.NextEvent());
        Assert.Equal(ConnectionState.Handshaking, client.State);

        AssertFailsAt(
            client,
            T0 + TimeSpan.FromSeconds(10),
            "The server did not answer as TcpChan: nothing came back within 10 s of the handshake request "
            + "(a server that waits for its client to speak first, such as an HTTP or a TLS server; or a TcpChan server with another magic, which does not reply).");
        Assert.Null(client.NextDeadline);
    }

    [Fact]
    public void Bytes_that_never_make_a_reply_are_shown_when_the_reply_timeout_fails()
    {
        // A TLS alert record is cut where it still looks like the start of a version-1 open frame.
        var client = StartedClient(new ConnectionOptions { HandshakeReplyTimeout = TimeSpan.FromSeconds(2.5) });
        client.DataReceived(Wire.Hex("1503030002"), T0 + TimeSpan.FromSeconds(1));
        Assert.Null(client.NextEvent());

        AssertFailsAt(
            client,
            T0 + TimeSpan.FromSeconds(2.5),
            "The server did not answer as TcpChan: within 2.5 s of the handshake request it sent no whole handshake reply, "
            + "only 5 bytes, 15 03 03 00 02 (\".....\"): a TLS record, so the peer speaks TLS.");
    }

    [Theory]
    [InlineData("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "53 53 48 2D 32 2E 30 2D 4F 70 65 6E 53 53 48 5F ... (\"SSH-2.0-OpenSSH_\" ...)")]
    [InlineData("HTTP/1.1 400 Bad Request\r\n\r\n", "48 54 54 50 2F 31 2E 31 20 34 30 30 20 42 61 64 ... (\"HTTP/1.1 400 Bad\" ...)")]
    public void A_banner_or_a_response_fails_the_handshake_at_once_and_is_shown(string banner, string shown)
    {
        var client = StartedClient();
        client.DataReceived(Encoding.ASCII.GetBytes(banner), T0 + TimeSpan.FromMilliseconds(3));

        var failed = Assert.IsType<HandshakeFailed>(client.NextEvent());
        Assert.Equal($"The server did not answer as TcpChan: it sent {banner.Length} bytes, {shown}.", failed.Reason);
    }

    [Fact]
    public void A_server_is_told_what_a_client_that_is_not_TcpChan_sent()
    {
        var server = new ServerConnection(() => new RecordingChannel());
        server.ConnectionEstablished(T0);
        Assert.Equal(T0 + TimeSpan.FromSeconds(30), server.NextDeadline); // the reply timeout is the client's

        server.DataReceived("GET / HTTP/1.1\r\n"u8, T0);
        var failed = Assert.IsType<HandshakeFailed>(server.NextEvent());
        Assert.Equal("The client did not speak TcpChan: it sent 16 bytes, 47 45 54 20 2F 20 48 54 54 50 2F 31 2E 31 0D 0A (\"GET / HTTP/1.1..\").", failed.Reason);
    }

    [Fact]
    public void A_frame_of_the_wrong_kind_first_is_named_with_its_bytes()
    {
        var client = StartedClient();
        client.DataReceived(Wire.Create(7), T0);
        var failed = Assert.IsType<HandshakeFailed>(client.NextEvent());
        Assert.Equal("The server did not answer as TcpChan: it sent 6 bytes, 00 03 00 00 00 07 (\"......\"), a CreateChannel frame, not a handshake reply.", failed.Reason);
    }

    [Fact]
    public void Without_a_reply_timeout_only_the_whole_handshake_timeout_runs()
    {
        var client = StartedClient(new ConnectionOptions { HandshakeReplyTimeout = null });
        Assert.Equal(T0 + TimeSpan.FromSeconds(30), client.NextDeadline);
        AssertFailsAt(client, T0 + TimeSpan.FromSeconds(30), "The handshake did not complete within 30 s.");
    }

    [Fact]
    public void A_whole_handshake_timeout_shorter_than_the_reply_timeout_comes_first()
    {
        var client = StartedClient(new ConnectionOptions { HandshakeTimeout = TimeSpan.FromSeconds(4) });
        Assert.Equal(T0 + TimeSpan.FromSeconds(4), client.NextDeadline);
        AssertFailsAt(client, T0 + TimeSpan.FromSeconds(4), "The handshake did not complete within 4 s.");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void A_reply_timeout_must_be_positive(int seconds)
    {
        var options = new ConnectionOptions { HandshakeReplyTimeout = TimeSpan.FromSeconds(seconds) };
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClientConnection(() => new RecordingChannel(), options));
    }

    /// <summary>
    /// A genuine server whose reply takes <paramref name="replyMs"/> to arrive and whose settings
    /// come <paramref name="settingsMs"/> after it, against the defaults: a reply later than 10 s
    /// fails as "not TcpChan" at 10 s; a reply in time whose settings make the handshake end past
    /// 30 s fails at 30 s; anything else succeeds. Timers due by an arrival run before it, as a
    /// driver that is late to read would run them.
    /// </summary>
    [Property(MaxTest = 300, EndSize = 45_000, Replay = "15105581052718468017,3215559178322092721")]
    public void A_slow_genuine_server_has_the_whole_handshake_timeout_once_it_has_replied(int replyMs, int settingsMs)
    {
        var reply = TimeSpan.FromMilliseconds(Math.Abs(replyMs % 15_000));
        var settings = reply + TimeSpan.FromMilliseconds(Math.Abs(settingsMs % 30_000));
        var client = new ClientConnection(() => new RecordingChannel());
        var server = new ServerConnection(() => new RecordingChannel());
        client.ConnectionEstablished(T0);
        server.ConnectionEstablished(T0);
        server.DataReceived(Transmitted(client), T0);
        var answer = Transmitted(server); // the reply (6 bytes), then the server's settings

        foreach (var (at, bytes) in new[] { (T0 + reply, answer[..6]), (T0 + settings, answer[6..]) })
        {
            while (client.State == ConnectionState.Handshaking && client.NextDeadline is { } due && due <= at)
            {
                client.HandleTimeout(due);
            }

            if (client.State == ConnectionState.Handshaking)
            {
                client.DataReceived(bytes, at);
            }
        }

        var last = Wire.Drain(client).Where(e => e is not DataTransmit).ToList();
        var outcome = Assert.Single(last);
        if (reply >= TimeSpan.FromSeconds(10))
        {
            Assert.StartsWith("The server did not answer as TcpChan: nothing came back within 10 s", Assert.IsType<HandshakeFailed>(outcome).Reason);
            Assert.Equal(T0 + TimeSpan.FromSeconds(10), client.Now);
        }
        else if (settings >= TimeSpan.FromSeconds(30))
        {
            Assert.Equal("The handshake did not complete within 30 s.", Assert.IsType<HandshakeFailed>(outcome).Reason);
            Assert.Equal(T0 + TimeSpan.FromSeconds(30), client.Now);
        }
        else
        {
            Assert.IsType<HandshakeSuccess>(outcome);
            Assert.Equal(ConnectionState.Established, client.State);
        }
    }

    /// <summary>The client's timer, run at <paramref name="at"/>, fails the handshake with exactly <paramref name="reason"/>.</summary>
    private static void AssertFailsAt(ClientConnection client, TimeSpan at, string reason)
    {
        client.HandleTimeout(at);
        Assert.Equal(reason, Assert.IsType<HandshakeFailed>(client.NextEvent()).Reason);
        Assert.Equal(ConnectionState.HandshakeFailed, client.State);
    }

    private static byte[] Transmitted(Connection connection) => Wire.Transmitted(Wire.Drain(connection));
}
