namespace TcpChan.Tests.QuickStart;

// README:begin protocol
using TcpChan.Core;

// The shape of the Python asyncio adapter: a protocol per connection, callbacks, and
// channels that are your Channel subclasses.
public sealed class GreetingServer() : TcpChanServerProtocol(() => new EchoChannel())
{
    public override void ChannelCreated(Channel channel) => Console.WriteLine($"channel {channel.ChannelId} opened");
}

public sealed class GreetingClient() : TcpChanClientProtocol(() => new PrintingChannel())
{
    public override void HandshakeSuccess() => CreateChannel().Write("hello"u8);
}

public sealed class PrintingChannel : Channel
{
    public static readonly TaskCompletionSource<string> Received = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override void DataReceived(ReadOnlySpan<byte> data) => Received.TrySetResult(System.Text.Encoding.UTF8.GetString(data));
}

// Serve:    await TcpChanListener.Start(endPoint).ServeAsync(() => new GreetingServer(), token);
// Connect:  await TcpChanClient.RunAsync(endPoint, new GreetingClient(), token);
// README:end protocol
