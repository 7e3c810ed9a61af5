using System.Diagnostics;
using System.Net;
using Xunit;

namespace TcpChan.Tests.Adapters;

/// <summary>
/// A version-1 peer in a separate process: a few lines of python3 that answer the handshake
/// with default settings and then only read, so that the test can kill a real process.
/// It exits by itself after a minute of silence.
/// </summary>
internal sealed class PythonPeer : IDisposable
{
    private const string Script = """
        import socket, sys
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(60)
        print(server.getsockname()[1], flush=True)
        conn, _ = server.accept()
        conn.settimeout(60)
        request = b""
        while len(request) < 6:
            chunk = conn.recv(6 - len(request))
            if not chunk:
                sys.exit(1)
            request += chunk
        if request[0] != 1 or request[1] != 1:
            sys.exit(2)
        # version-1 handshake reply with the client's magic, then a settings frame with no entries
        conn.sendall(bytes([1, 2]) + request[2:6] + bytes([1, 8, 0]))
        print("ready", flush=True)
        while conn.recv(65536):
            pass
        """;

    private readonly Process _process;
    private readonly string _path;

    private PythonPeer(Process process, string path, int port)
    {
        _process = process;
        _path = path;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>True when python3 is on the PATH.</summary>
    public static bool IsAvailable => Find() is not null;

    public static PythonPeer Start()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tcpchan-peer-{Guid.NewGuid():N}.py");
        File.WriteAllText(path, Script);
        var info = new ProcessStartInfo(Find()!, path) { RedirectStandardOutput = true, UseShellExecute = false };
        var process = Process.Start(info)!;
        var line = process.StandardOutput.ReadLineAsync().WaitAsync(Loopback.Timeout).GetAwaiter().GetResult();
        return new PythonPeer(process, path, int.Parse(line!));
    }

    /// <summary>Kills the process: the kernel closes its socket (a FIN, or a RST if data was unread).</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit((int)Loopback.Timeout.TotalMilliseconds);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
        File.Delete(_path);
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "python3"))
            .FirstOrDefault(File.Exists);
}

/// <summary>A fact that needs python3: skipped, saying so, where there is none.</summary>
public sealed class PythonFactAttribute : FactAttribute
{
    public PythonFactAttribute()
    {
        if (!PythonPeer.IsAvailable)
        {
            Skip = "python3 is not on the PATH: the child-process peer cannot run here.";
        }
    }
}
