// The echo example: a TcpChan echo server and a client that checks it, each driving the
// sans-I/O core by hand over a plain socket (see SocketDriver). EchoProgram has the
// command line; this file only hands it the console.
using TcpChan.Examples.Echo;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop cleanly instead of being killed
    stop.Cancel();
};

return await EchoProgram.RunAsync(args, Console.Out, Console.Error, stop.Token);
