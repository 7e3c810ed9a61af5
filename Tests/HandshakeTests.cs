using System.Text;
using TcpChan.Core;
using TcpChan.Tests.Support;
using Xunit;

namespace TcpChan.Tests;

public class HandshakeTests
{
    private static readonly byte[] s_http = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");

    private static ServerConnection NewServer(uint magic = Wire.Magic)
    {
        var server = new ServerConnection(() => new RecordingChannel(), V0.Options(magic));
        server.ConnectionEstablished();
        return server;
    }

    private static ClientConnection NewClient(uint magic = Wire.Magic)
    {
        var client = new ClientConnection(() => new RecordingChannel(), V0.Options(magic));
        client.ConnectionEstablished();
        return client;
    }

    /// <summary>A client whose request has been taken, waiting for the reply.</summary>
    private static ClientConnection WaitingClient(uint magic = Wire.Magic)
    {
        var client = NewClient(magic);
        Assert.IsType<DataTransmit>(client.NextEvent());
        Assert.Null(client.NextEvent());
        return client;
    }

    [Fact]
    public void Client_sends_the_request_on_connect()
    {
        var client = new ClientConnection(() => new RecordingChannel(), V0.Options());
        Assert.Equal(ConnectionState.Idle, client.State);
        Assert.False(client.HasEvents);

        client.ConnectionEstablished();

        Assert.Equal(ConnectionState.Handshaking, client.State);
        var events = Wire.Drain(client);
        Assert.Equal(["DataTransmit(0001feedbacc)"], events.Select(Wire.Describe));
    }

    [Fact]
    public void Client_request_carries_a_custom_magic()
    {
        var client = NewClient(0x01020304);
        Assert.Equal(["DataTransmit(000101020304)"], Wire.Drain(client).Select(Wire.Describe));
    }

    [Fact]
    public void Server_says_nothing_until_the_request()
    {
        var server = NewServer();
        Assert.Equal(ConnectionState.Handshaking, server.State);
        Assert.False(server.HasEvents);
    }

    [Fact]
    public void Server_replies_to_the_request_and_succeeds()
    {
        var server = NewServer();
        server.DataReceived(Wire.Hex("0001feedbacc"));

        Assert.Equal(["DataTransmit(0002feedbacc)", "HandshakeSuccess(0)"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal(ConnectionState.Established, server.State);
        Assert.Equal(0, server.Version);
    }

    [Fact]
    public void Client_succeeds_on_the_reply()
    {
        var client = WaitingClient();
        client.DataReceived(Wire.Hex("0002feedbacc"));

        Assert.Equal(["HandshakeSuccess(0)"], Wire.Drain(client).Select(Wire.Describe));
        Assert.Equal(ConnectionState.Established, client.State);
        Assert.Equal(0, client.Version);
    }

    [Fact]
    public void Both_sides_succeed_with_version_0()
    {
        var pair = new InMemoryPair();
        pair.Handshake();

        Assert.Equal(["HandshakeSuccess(0)"], pair.ClientEvents.Select(Wire.Describe));
        Assert.Equal(["HandshakeSuccess(0)"], pair.ServerEvents.Select(Wire.Describe));
        Assert.Equal(0, Assert.IsType<HandshakeSuccess>(pair.ClientEvents[0]).Version);
        Assert.Equal(ConnectionState.Established, pair.Client.State);
        Assert.Equal(ConnectionState.Established, pair.Server.State);
        Assert.Equal(6, pair.BytesSentByClient);
        Assert.Equal(6, pair.BytesSentByServer);
        Assert.True(pair.Client.IsClient);
        Assert.False(pair.Server.IsClient);
    }

    [Fact]
    public void Both_sides_succeed_with_a_custom_magic_delivered_one_byte_at_a_time()
    {
        var pair = new InMemoryPair(
            clientOptions: V0.Options(0x01020304),
            serverOptions: V0.Options(0x01020304),
            chunker: Chunkers.OneByte);
        pair.Handshake();
        Assert.Equal(["HandshakeSuccess(0)"], pair.ClientEvents.Select(Wire.Describe));
        Assert.Equal(["HandshakeSuccess(0)"], pair.ServerEvents.Select(Wire.Describe));
        Assert.Equal(12, pair.DeliveryCount);
    }

    [Fact]
    public void Server_with_wrong_magic_fails_sends_no_reply_and_ignores_later_input()
    {
        var server = NewServer();
        server.DataReceived(Wire.Hex("000101020304"));

        var failed = Assert.IsType<HandshakeFailed>(Assert.Single(Wire.Drain(server)));
        Assert.Contains("magic", failed.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(ConnectionState.HandshakeFailed, server.State);

        // A correct request afterwards changes nothing.
        server.DataReceived(Wire.Request());
        server.DataReceived(Wire.Create(7));
        Assert.False(server.HasEvents);
        Assert.Equal(ConnectionState.HandshakeFailed, server.State);
        Assert.Throws<InvalidOperationException>(() => server.CreateChannel());
    }

    [Fact]
    public void Input_after_a_failed_request_in_the_same_call_is_ignored()
    {
        var server = NewServer();
        server.DataReceived(Wire.Concat(Wire.Request(0x01020304), Wire.Request(), Wire.Create(1)));
        Assert.Equal(["HandshakeFailed"], Wire.Drain(server).Select(Wire.Describe));
    }

    [Fact]
    public void Client_with_wrong_magic_in_the_reply_fails()
    {
        var client = WaitingClient();
        client.DataReceived(Wire.Hex("000201020304"));

        var failed = Assert.IsType<HandshakeFailed>(Assert.Single(Wire.Drain(client)));
        Assert.Contains("magic", failed.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(ConnectionState.HandshakeFailed, client.State);

        client.DataReceived(Wire.Reply());
        Assert.False(client.HasEvents);
    }

    [Fact]
    public void Pair_with_different_magics_fails_on_the_server_and_the_client_keeps_waiting()
    {
        var pair = new InMemoryPair(serverOptions: V0.Options(0x01020304));
        pair.Server.ConnectionEstablished();
        pair.Client.ConnectionEstablished();
        pair.Pump();

        Assert.Equal(["HandshakeFailed"], pair.ServerEvents.Select(Wire.Describe));
        Assert.Empty(pair.ClientEvents);
        Assert.Equal(0, pair.BytesSentByServer);
        Assert.Equal(ConnectionState.Handshaking, pair.Client.State);
    }

    [Theory]
    [InlineData("0002feedbacc")] // a reply
    [InlineData("000300000007")] // a create
    [InlineData("000400000007")] // a close
    [InlineData("000500000007000568656c6c6f")] // a payload
    public void Server_getting_anything_but_a_request_first_fails(string hex)
    {
        var server = NewServer();
        server.DataReceived(Wire.Hex(hex));

        Assert.Equal(["HandshakeFailed"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal(ConnectionState.HandshakeFailed, server.State);
        Assert.Equal(0, server.OpenChannelCount);
    }

    [Theory]
    [InlineData("0001feedbacc")] // a request
    [InlineData("000300000007")] // a create
    [InlineData("000500000007000568656c6c6f")] // a payload
    public void Client_getting_anything_but_a_reply_first_fails(string hex)
    {
        var client = WaitingClient();
        client.DataReceived(Wire.Hex(hex));

        Assert.Equal(["HandshakeFailed"], Wire.Drain(client).Select(Wire.Describe));
        Assert.Equal(ConnectionState.HandshakeFailed, client.State);
        Assert.Equal(0, client.OpenChannelCount);
    }

    [Fact]
    public void Http_request_to_a_server_fails_the_handshake_without_exception_or_reply()
    {
        var server = NewServer();
        server.DataReceived(s_http);

        var failed = Assert.IsType<HandshakeFailed>(Assert.Single(Wire.Drain(server)));
        Assert.Contains($"did not speak TcpChan: it sent {s_http.Length} bytes, 47 45 54 20 2F ", failed.Reason, StringComparison.Ordinal); // "GET /"
        Assert.Equal(ConnectionState.HandshakeFailed, server.State);

        server.DataReceived(s_http);
        Assert.False(server.HasEvents);
    }

    [Fact]
    public void Http_request_to_a_client_fails_the_handshake_without_exception()
    {
        var client = WaitingClient();
        client.DataReceived(s_http);

        Assert.Equal(["HandshakeFailed"], Wire.Drain(client).Select(Wire.Describe));
        Assert.Equal(ConnectionState.HandshakeFailed, client.State);
    }

    [Fact]
    public void Http_request_in_two_byte_chunks_fails_the_handshake()
    {
        var server = NewServer();
        for (int i = 0; i < s_http.Length; i += 2)
        {
            server.DataReceived(s_http.AsSpan(i, Math.Min(2, s_http.Length - i)));
        }

        Assert.Equal(["HandshakeFailed"], Wire.Drain(server).Select(Wire.Describe));
    }

    [Fact]
    public void Http_request_typed_one_byte_at_a_time_fails_the_handshake_without_exception()
    {
        // What a person typing into telnet sends: one byte per packet.
        var server = NewServer();
        foreach (byte b in s_http)
        {
            server.DataReceived([b]);
        }

        var failed = Assert.IsType<HandshakeFailed>(Assert.Single(Wire.Drain(server)));
        Assert.Contains("did not speak TcpChan: it sent", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Second_request_after_success_is_a_protocol_error()
    {
        var server = NewServer();
        server.DataReceived(Wire.Request());
        Wire.Drain(server);

        server.DataReceived(Wire.Request());

        var error = Assert.IsType<ProtocolError>(Assert.Single(Wire.Drain(server)));
        Assert.Equal(ErrorCode.ProtocolError, error.Code);
        Assert.Equal(ConnectionState.Failed, server.State);
    }

    [Fact]
    public void Second_reply_after_success_is_a_protocol_error()
    {
        var client = WaitingClient();
        client.DataReceived(Wire.Reply());
        Wire.Drain(client);

        client.DataReceived(Wire.Reply());

        var error = Assert.IsType<ProtocolError>(Assert.Single(Wire.Drain(client)));
        Assert.Equal(ErrorCode.ProtocolError, error.Code);
        Assert.Equal(ConnectionState.Failed, client.State);
    }

    [Fact]
    public void Request_on_a_client_after_success_is_a_protocol_error()
    {
        var client = WaitingClient();
        client.DataReceived(Wire.Reply());
        Wire.Drain(client);

        client.DataReceived(Wire.Request());

        Assert.Equal(["ProtocolError(ProtocolError)"], Wire.Drain(client).Select(Wire.Describe));
    }

    [Fact]
    public void Server_accepts_a_request_with_version_byte_1_and_replies_with_version_0()
    {
        var server = NewServer();
        server.DataReceived(Wire.Hex("0101feedbacc"));

        Assert.Equal(["DataTransmit(0002feedbacc)", "HandshakeSuccess(0)"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal(0, server.Version);

        // And the connection speaks version 0 afterwards.
        server.DataReceived(Wire.Create(7));
        Assert.Equal(["ChannelCreated(7, remote=True)"], Wire.Drain(server).Select(Wire.Describe));
    }

    // ---- negotiation between version-0 and version-1 peers ---------------------------------

    [Fact]
    public void Default_client_offers_version_1_in_its_request()
    {
        var client = new ClientConnection(() => new RecordingChannel());
        client.ConnectionEstablished();
        Assert.Equal(["DataTransmit(0101feedbacc)"], Wire.Drain(client).Select(Wire.Describe));
        Assert.Equal(ConnectionState.Handshaking, client.State);
    }

    [Fact]
    public void Default_client_and_default_server_speak_version_1_after_exchanging_settings()
    {
        var client = new ClientConnection(() => new RecordingChannel());
        var server = new ServerConnection(() => new RecordingChannel());
        server.ConnectionEstablished();
        client.ConnectionEstablished();

        var request = Wire.Drain(client);
        Assert.Equal(["DataTransmit(0101feedbacc)"], request.Select(Wire.Describe));

        // The server answers with version 1 and its settings in the same write, and waits for the client's.
        server.DataReceived(Wire.Transmitted(request));
        var reply = Wire.Drain(server);
        Assert.Equal([$"DataTransmit(0102feedbacc{Wire.DefaultSettingsHex})"], reply.Select(Wire.Describe));
        Assert.Equal(ConnectionState.Handshaking, server.State);

        // The client sends its settings, and succeeds on the server's; then a first ping measures the round trip.
        client.DataReceived(Wire.Transmitted(reply));
        var clientEvents = Wire.Drain(client);
        Assert.Equal(
            [$"DataTransmit({Wire.DefaultSettingsHex}010900{0x7463_0000_0000_0001UL:x16})", "HandshakeSuccess(1)"],
            clientEvents.Select(Wire.Describe));
        Assert.Equal(ConnectionState.Established, client.State);

        server.DataReceived(Wire.Transmitted(clientEvents));
        // Success first; then the answer to the client's ping and the server's own ping.
        Assert.Equal(["HandshakeSuccess(1)", "DataTransmit"], Wire.Drain(server).Select(e => e is DataTransmit ? "DataTransmit" : Wire.Describe(e)));
        Assert.Equal(ConnectionState.Established, server.State);
        Assert.Equal(1, client.Version);
        Assert.Equal(1, server.Version);
        Assert.Equal(Settings.DefaultInitialChannelWindow, server.PeerSettings.InitialChannelWindow);
        Assert.Equal(Settings.DefaultInitialSessionWindow, client.PeerSettings.InitialSessionWindow);
    }

    [Fact]
    public void Default_client_and_a_version_0_server_settle_on_version_0()
    {
        var pair = new InMemoryPair(clientOptions: new ConnectionOptions(), serverOptions: V0.Options());
        pair.Server.ConnectionEstablished();
        pair.Client.ConnectionEstablished();
        var request = Wire.Drain(pair.Client);
        Assert.Equal(["DataTransmit(0101feedbacc)"], request.Select(Wire.Describe));
        pair.Server.DataReceived(Wire.Transmitted(request));
        var reply = Wire.Drain(pair.Server);
        Assert.Equal(["DataTransmit(0002feedbacc)", "HandshakeSuccess(0)"], reply.Select(Wire.Describe));
        pair.Client.DataReceived(Wire.Transmitted(reply));
        Assert.Equal(["HandshakeSuccess(0)"], Wire.Drain(pair.Client).Select(Wire.Describe));

        Assert.Equal(0, pair.Client.Version);
        Assert.Equal(0, pair.Server.Version);
        AssertSpeaksVersion0(pair);
    }

    [Fact]
    public void Version_0_client_and_a_default_server_settle_on_version_0()
    {
        var pair = new InMemoryPair(clientOptions: V0.Options(), serverOptions: new ConnectionOptions());
        pair.Handshake();

        Assert.Equal(["HandshakeSuccess(0)"], pair.ClientEvents.Select(Wire.Describe));
        Assert.Equal(["HandshakeSuccess(0)"], pair.ServerEvents.Select(Wire.Describe));
        Assert.Equal(0, pair.Client.Version);
        Assert.Equal(0, pair.Server.Version);
        Assert.Equal(12, pair.BytesSentByClient + pair.BytesSentByServer); // request and reply, no settings
        AssertSpeaksVersion0(pair);
    }

    [Fact]
    public void Default_server_answers_the_reference_request_like_the_reference()
    {
        var server = new ServerConnection(() => new RecordingChannel());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Hex("0001feedbacc"));

        Assert.Equal(["DataTransmit(0002feedbacc)", "HandshakeSuccess(0)"], Wire.Drain(server).Select(Wire.Describe));
        Assert.Equal(0, server.Version);
        Assert.Null(server.NextDeadline); // version 0 has no keepalive
    }

    [Fact]
    public void Default_client_accepts_a_version_0_reply_and_has_no_timers_then()
    {
        var client = new ClientConnection(() => new RecordingChannel());
        client.ConnectionEstablished(TimeSpan.FromSeconds(5));
        Wire.Drain(client);
        Assert.Equal(TimeSpan.FromSeconds(15), client.NextDeadline); // the reply timeout (the whole handshake has 30 s)

        client.DataReceived(Wire.Hex("0002feedbacc"));
        Assert.Equal(["HandshakeSuccess(0)"], Wire.Drain(client).Select(Wire.Describe));
        Assert.Equal(0, client.Version);
        Assert.Null(client.NextDeadline);
    }

    /// <summary>Random ids and a real close frame: what a version-1 connection never does.</summary>
    private static void AssertSpeaksVersion0(InMemoryPair pair)
    {
        var channel = pair.Client.CreateChannel("ignored in version 0");
        Assert.Null(channel.Label);
        Assert.NotEqual(1u, channel.ChannelId);
        channel.Write("hi"u8);
        channel.Close();
        Assert.Equal(ChannelCloseReason.LocalClose, channel.CloseReason);
        pair.Pump();
        var remote = Assert.IsType<RecordingChannel>(pair.ServerEvents.OfType<ChannelCreated>().Single().Channel);
        Assert.Equal("hi", Encoding.ASCII.GetString(remote.Received));
        Assert.Equal(ChannelCloseReason.RemoteClose, remote.CloseReason);
    }

    [Fact]
    public void Version_1_server_with_wrong_magic_fails_and_sends_nothing()
    {
        var server = new ServerConnection(() => new RecordingChannel());
        server.ConnectionEstablished();
        server.DataReceived(Wire.Hex("010101020304"));

        var failed = Assert.IsType<HandshakeFailed>(Assert.Single(Wire.Drain(server)));
        Assert.Contains("magic", failed.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(ConnectionState.HandshakeFailed, server.State);
    }

    [Fact]
    public void Http_request_typed_one_byte_at_a_time_to_a_version_1_server_fails_the_handshake_without_exception()
    {
        var server = new ServerConnection(() => new RecordingChannel());
        server.ConnectionEstablished();
        foreach (byte b in s_http)
        {
            server.DataReceived([b]);
        }

        var failed = Assert.IsType<HandshakeFailed>(Assert.Single(Wire.Drain(server)));
        Assert.Contains("did not speak TcpChan: it sent", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_1_client_fails_on_anything_but_settings_after_the_reply()
    {
        var client = new ClientConnection(() => new RecordingChannel());
        client.ConnectionEstablished();
        Wire.Drain(client);
        client.DataReceived(Wire.Concat(Wire.Reply(version: 1), Wire.Open(2)));

        Assert.Equal(["DataTransmit", "HandshakeFailed"], Wire.Drain(client).Select(e => e is DataTransmit ? "DataTransmit" : Wire.Describe(e)));
        Assert.Equal(ConnectionState.HandshakeFailed, client.State);
    }

    [Fact]
    public void Request_and_first_frames_in_one_call_are_all_handled()
    {
        var server = NewServer();
        server.DataReceived(Wire.Concat(Wire.Request(), Wire.Create(7), Wire.Payload(7, "hi")));

        Assert.Equal(
            ["DataTransmit(0002feedbacc)", "HandshakeSuccess(0)", "ChannelCreated(7, remote=True)"],
            Wire.Drain(server).Select(Wire.Describe));
        var channel = Assert.IsType<RecordingChannel>(server.GetChannel(7));
        Assert.Equal("hi", Encoding.ASCII.GetString(channel.Received));
    }

    [Fact]
    public void ConnectionEstablished_twice_throws()
    {
        var client = NewClient();
        Assert.Throws<InvalidOperationException>(() => client.ConnectionEstablished());
        var server = NewServer();
        Assert.Throws<InvalidOperationException>(() => server.ConnectionEstablished());
    }
}
