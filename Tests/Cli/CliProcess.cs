using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace TcpChan.Tests.Cli;

/// <summary>
/// The built <c>tcpchan</c> tool run as a real process (<c>dotnet tcpchan.dll ...</c>), its
/// standard output and error collected line by line so that a test can wait for a log line.
/// Every wait has a timeout; disposing kills the process if it still runs.
/// </summary>
internal sealed class CliProcess : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly List<Waiter> _waiters = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _streamsOpen = 2;

    private CliProcess(string name, IEnumerable<string> arguments)
    {
        Name = name;
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ToolPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment.Remove("TCPCHAN_TOKEN");
        info.Environment["DOTNET_NOLOGO"] = "1";
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The tool's dll, built by the solution (the test project references the Cli project without its output).</summary>
    public static string ToolPath { get; } = FindTool();

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything it printed so far (for assertion messages).</summary>
    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join("\n", _lines);
            }
        }
    }

    public static CliProcess Start(string name, params string[] arguments) => new(name, arguments);

    /// <summary>Starts <c>serve</c> on a free loopback port (or <paramref name="port"/>) and waits until it listens.</summary>
    public static async Task<(CliProcess Process, int Port)> StartServeAsync(int port = 0, params string[] arguments)
    {
        var serve = Start("serve", ["serve", "--listen", $"127.0.0.1:{port}", .. arguments]);
        var match = await serve.WaitForAsync(@"listening on 127\.0\.0\.1:(\d+)");
        return (serve, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Starts <c>forward</c> with one -L on a free local port, waits for the session, returns the local port.</summary>
    public static async Task<(CliProcess Process, int LocalPort)> StartForwardAsync(int serverPort, string target, params string[] arguments)
    {
        var forward = Start("forward", ["forward", "--server", $"127.0.0.1:{serverPort}", "-L", $"0:{target}", .. arguments]);
        var match = await forward.WaitForAsync(@"forwarding 127\.0\.0\.1:(\d+) -> ");
        await forward.WaitForAsync("session up");
        return (forward, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Waits for the <paramref name="occurrence"/>-th line matching <paramref name="pattern"/> (counting lines already printed).</summary>
    public async Task<Match> WaitForAsync(string pattern, int occurrence = 1, TimeSpan? timeout = null)
    {
        var waiter = new Waiter(new Regex(pattern), occurrence);
        lock (_lines)
        {
            foreach (var line in _lines)
            {
                if (waiter.Offer(line))
                {
                    return waiter.Task.Result;
                }
            }

            if (_streamsOpen == 0)
            {
                throw new TimeoutException($"{Name} exited (code {ExitCodeText()}) without printing /{pattern}/ (#{occurrence}). Output:\n{Output}");
            }

            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Task.WaitAsync(timeout ?? Timeout);
        }
        catch (TimeoutException) when (!waiter.Task.IsFaulted)
        {
            throw new TimeoutException($"{Name} did not print /{pattern}/ (#{occurrence}) within {(timeout ?? Timeout).TotalSeconds} s. Output:\n{Output}");
        }
        finally
        {
            lock (_lines)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout ?? Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not exit within {(timeout ?? Timeout).TotalSeconds} s. Output:\n{Output}");
        }

        await _exited.Task.WaitAsync(TimeSpan.FromSeconds(5)); // the last lines are in
        return _process.ExitCode;
    }

    /// <summary>Writes <paramref name="text"/> to the process's standard input, and closes it if <paramref name="close"/>.</summary>
    public async Task WriteInputAsync(string text, bool close)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
        if (close)
        {
            _process.StandardInput.Close();
        }
    }

    /// <summary>Kills the process at once, as a crash would.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(Timeout);
    }

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal does (Unix only).</summary>
    public void Interrupt()
    {
        if (SendSignal(_process.Id, 2) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGINT) failed: {Marshal.GetLastPInvokeError()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(Timeout);
            }
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }

    public override string ToString() => $"{Name} (pid {Id})";

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the test project.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
#pragma warning restore SYSLIB1054

    private string ExitCodeText() => _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";

    private void OnLine(string? line)
    {
        lock (_lines)
        {
            if (line is null)
            {
                if (--_streamsOpen == 0)
                {
                    _exited.TrySetResult();
                    foreach (var waiter in _waiters)
                    {
                        waiter.Fail(new TimeoutException($"{Name} exited (code {ExitCodeText()}) without printing /{waiter.Pattern}/. Output:\n{string.Join("\n", _lines)}"));
                    }
                }

                return;
            }

            _lines.Add(line);
            foreach (var waiter in _waiters)
            {
                waiter.Offer(line);
            }
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string FindTool()
    {
        string? path = typeof(CliProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "TcpChanCliPath")?.Value;
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException($"The tcpchan tool is not built at {path}; build the solution (dotnet build TcpChan.sln) first.");
        }

        return path;
    }

    private sealed class Waiter(Regex pattern, int occurrence)
    {
        private readonly TaskCompletionSource<Match> _found = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _seen;

        public Task<Match> Task => _found.Task;

        public Regex Pattern => pattern;

        public bool Offer(string line)
        {
            var match = pattern.Match(line);
            if (match.Success && ++_seen == occurrence)
            {
                _found.TrySetResult(match);
                return true;
            }

            return false;
        }

        public void Fail(Exception error) => _found.TrySetException(error);
    }
}
