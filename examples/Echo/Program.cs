// The echo example: a TcpChan echo server and a client that checks it, each driving the
// sans-I/O core by hand over a plain socket (see SocketDriver). EchoProgram has the
// command line; this file only hands it the console.
using System.Runtime.InteropServices;
using TcpChan.Examples.Echo;

// Ctrl+C and SIGTERM stop a server cleanly (its clients' connections end) instead of killing it.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

return await EchoProgram.RunAsync(args, Console.Out, Console.Error, stop.Token);
