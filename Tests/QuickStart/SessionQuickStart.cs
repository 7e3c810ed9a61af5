namespace TcpChan.Tests.QuickStart;

public static class SessionQuickStart
{
    public static async Task<string> RunAsync(CancellationToken cancellationToken)
    {
// README:begin session
using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

// Server: accept sessions on a TCP port; every channel a client opens is a Stream.
await using var listener = TcpChanListener.Start(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
var serving = Task.Run(async () =>
{
    await using var session = await listener.AcceptSessionAsync(cancel.Token);
    await foreach (var channel in session.AcceptChannelsAsync(cancel.Token))
    {
        // Echo until the client ends its side, then end ours.
        await channel.CopyToAsync(channel, cancel.Token);
        channel.CompleteWrites();
    }
});

// Client: one TCP connection, many channels, each with a label the server sees.
await using var client = await TcpChanClient.ConnectAsync(listener.LocalEndPoint, cancellationToken: cancel.Token);
await using var stream = await client.OpenChannelAsync("echo", cancel.Token);
await stream.WriteAsync("hello"u8.ToArray(), cancel.Token);
stream.CompleteWrites();                       // half-close: we can still read
var reply = await new StreamReader(stream).ReadToEndAsync(cancel.Token);
Console.WriteLine($"{reply} over protocol version {client.Version}");
// README:end session
        cancel.Cancel();
        await Task.WhenAny(serving);
        return reply;
    }
}
