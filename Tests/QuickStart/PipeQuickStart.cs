using System.Buffers;

namespace TcpChan.Tests.QuickStart;

public static class PipeQuickStart
{
    public static async Task<string> RunAsync(Stream clientTransport, Stream serverTransport, CancellationToken token)
    {
// README:begin pipes
// Any Stream (TLS, a named pipe, a WebSocket stream) or IDuplexPipe can carry a session;
// bytes are parsed where they lie in the pipe's buffers.
var accepting = TcpChanSession.AcceptAsync(DuplexPipeTransport.Create(serverTransport), cancellationToken: token);
await using var client = await TcpChanSession.ConnectAsync(DuplexPipeTransport.Create(clientTransport), cancellationToken: token);
await using var server = await accepting;

// Every channel can be an IDuplexPipe: the peer gets credit back for the bytes you consume.
var echo = Task.Run(async () =>
{
    var channel = await server.AcceptPipeAsync(token);
    await channel.Input.CopyToAsync(channel.Output, token);  // echo until the end of data
    await channel.Input.CompleteAsync();
    await channel.Output.CompleteAsync();                    // completing the writer half-closes
});

var pipe = await client.OpenPipeAsync("echo", token);
await pipe.Output.WriteAsync("hello"u8.ToArray(), token);
await pipe.Output.CompleteAsync();
var result = await pipe.Input.ReadAtLeastAsync(5, token);
var text = System.Text.Encoding.UTF8.GetString(result.Buffer.ToArray());
pipe.Input.AdvanceTo(result.Buffer.End);
// README:end pipes
        await echo;
        return text;
    }
}
