namespace TcpChan.Tests.QuickStart;

// README:begin echo-channel
using TcpChan.Core;

// A channel that sends back every byte it receives. A connection's channel factory makes
// one per channel, whichever side creates it.
public sealed class EchoChannel : Channel
{
    // The peer's bytes, in order, in chunks of any size. The span is valid only during the
    // call; Write may be called right here.
    protected override void DataReceived(ReadOnlySpan<byte> data) => Write(data);

    // The peer will send no more (it called CompleteWrites or Close): end our side too, once
    // the echo is out. With both sides ended, the channel closes as Completed.
    protected override void OnEndOfData() => CompleteWrites();

    // Optional: OnWritable() runs when writes that waited for the peer's credit have gone out.
    // The channel's opening and closing are the connection's ChannelCreated and ChannelClosed events.
}

public static class EchoService
{
    // A server on which every channel a client opens echoes. Drive it as in the next
    // example: feed it the bytes that arrive, send the bytes of its DataTransmit events.
    public static ServerConnection CreateServer() => new(() => new EchoChannel());
}
// README:end echo-channel
