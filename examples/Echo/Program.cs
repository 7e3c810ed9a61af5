// The echo example: a TcpChan echo server and a client that checks it, each driving the
// sans-I/O core by hand over a plain socket (see SocketDriver).
//
//   dotnet run --project examples/Echo -- server --port N [--host H]
//   dotnet run --project examples/Echo -- client --port N [--host H] [--channels 8] [--size 100000] [--timeout-seconds 30]
//   dotnet run --project examples/Echo -- demo [--channels 8] [--size 100000] [--timeout-seconds 30]
using System.Net;
using TcpChan.Examples.Echo;

const string Usage = """
    usage:
      Echo server --port N [--host 127.0.0.1]
      Echo client --port N [--host 127.0.0.1] [--channels 8] [--size 100000] [--timeout-seconds 30]
      Echo demo [--channels 8] [--size 100000] [--timeout-seconds 30]
    """;

var options = new Dictionary<string, string>();
for (int i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i]] = args[i + 1];
}

string mode = args.Length > 0 ? args[0] : "";
string host = Take("--host", "127.0.0.1");
int port = Number("--port", mode == "demo" ? 0 : -1);
int channels = Number("--channels", 8);
int size = Number("--size", 100000);
int timeoutSeconds = Number("--timeout-seconds", 30);
if (args.Length % 2 == 0 || options.Count > 0 || mode is not ("server" or "client" or "demo")
    || port is < 0 or > 65535 || channels < 0 || size < 0 || timeoutSeconds <= 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

switch (mode)
{
    case "server":
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true; // stop cleanly instead of being killed
            stop.Cancel();
        };
        using var server = new EchoServer(IPAddress.Parse(host), port, Console.Out);
        Console.WriteLine($"echo server listening on {host}:{server.Port} (Ctrl+C to stop)");
        await server.RunAsync(stop.Token);
        return 0;
    }

    case "client":
        return await CheckAsync(host, port);

    default: // demo: the server and the client in this one process, on a free loopback port
    {
        using var stop = new CancellationTokenSource();
        using var server = new EchoServer(IPAddress.Loopback, port);
        Console.WriteLine($"echo server listening on 127.0.0.1:{server.Port}");
        Task serving = server.RunAsync(stop.Token);
        int result = await CheckAsync("127.0.0.1", server.Port);
        stop.Cancel();
        await serving;
        return result;
    }
}

async Task<int> CheckAsync(string host, int port)
{
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
    try
    {
        byte version = await EchoClient.RunAsync(host, port, channels, size, timeout.Token);
        Console.WriteLine($"protocol version {version}");
        Console.WriteLine($"{channels} channels x {size} bytes echoed intact");
        Console.WriteLine("ok");
        return 0;
    }
    catch (OperationCanceledException) when (timeout.IsCancellationRequested)
    {
        return Fail($"echo client: timed out after {timeoutSeconds} s");
    }
    catch (Exception ex) when (ex is EchoException or System.Net.Sockets.SocketException or IOException)
    {
        return Fail($"echo client: {ex.Message}");
    }
}

string Take(string name, string fallback) => options.Remove(name, out var value) ? value : fallback;

// A missing option gets its default; one that is not a number becomes -1, which fails the checks.
int Number(string name, int fallback) =>
    options.Remove(name, out var value) ? (int.TryParse(value, out int n) ? n : -1) : fallback;

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 1;
}
