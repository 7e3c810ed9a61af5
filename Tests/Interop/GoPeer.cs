using System.Diagnostics;
using System.Net;
using System.Text;
using System.Threading.Channels;

namespace TcpChan.Tests.Interop;

/// <summary>
/// One run of the Go interop program (<c>Interop/yamux/main.go</c>): its stdout lines as they
/// come, its stderr (yamux's log) for failure messages, its result. Disposing kills it if it
/// still runs.
/// </summary>
internal sealed class GoPeer : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly StringBuilder _stderr = new();
    private readonly Channel<string> _incoming = Channel.CreateUnbounded<string>();
    private readonly TaskCompletionSource _stdoutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GoPeer(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
    }

    /// <summary>What ran, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>The address from the READY line (servers only).</summary>
    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>Every stdout line so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Everything on stderr so far (yamux's log).</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static GoPeer Start(string path, string[] arguments)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        var peer = new GoPeer(process, $"yamux-peer {string.Join(' ', arguments)}");
        process.OutputDataReceived += (_, e) => peer.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => peer.OnStderr(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Waits for the server's READY line and returns its address.</summary>
    public async Task<IPEndPoint> WaitForReadyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await foreach (string line in _incoming.Reader.ReadAllAsync(cts.Token))
            {
                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    EndPoint = IPEndPoint.Parse(GoResult.Fields(line)["addr"]);
                    return EndPoint;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No READY line from {CommandLine} within {timeout}.\n{Describe()}");
        }

        throw new InvalidOperationException($"{CommandLine} ended without a READY line.\n{Describe()}");
    }

    /// <summary>Waits for the next stdout line that starts with <paramref name="prefix"/> (READY excepted, which <see cref="WaitForReadyAsync"/> takes).</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await foreach (string line in _incoming.Reader.ReadAllAsync(cts.Token))
            {
                if (line.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No line starting \"{prefix}\" from {CommandLine} within {timeout}.\n{Describe()}");
        }

        throw new InvalidOperationException($"{CommandLine} ended without a line starting \"{prefix}\".\n{Describe()}");
    }

    /// <summary>Waits for the process to exit (killing it past <paramref name="timeout"/>) and returns its RESULT.</summary>
    public async Task<GoResult> WaitForResultAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await Task.WhenAll(_stdoutDone.Task, _stderrDone.Task).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{CommandLine} did not exit within {timeout}.\n{Describe()}");
        }

        var lines = Lines;
        string? result = lines.LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (result is null)
        {
            throw new InvalidOperationException($"{CommandLine} exited ({_process.ExitCode}) without a RESULT line.\n{Describe()}");
        }

        return new GoResult(result, _process.ExitCode, lines, Stderr, CommandLine);
    }

    /// <summary>Stdout and stderr, for a failure message.</summary>
    public string Describe() => $"stdout:\n{string.Join('\n', Lines)}\nstderr:\n{Stderr}";

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Not started, or already gone.
        }
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _incoming.Writer.TryComplete();
            _stdoutDone.TrySetResult();
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }

        _incoming.Writer.TryWrite(line);
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            _stderrDone.TrySetResult();
            return;
        }

        lock (_stderr)
        {
            _stderr.AppendLine(line);
        }
    }
}

/// <summary>The RESULT line of a Go run, with everything else it printed.</summary>
internal sealed class GoResult
{
    public GoResult(string line, int exitCode, IReadOnlyList<string> lines, string stderr, string commandLine)
    {
        Line = line;
        ExitCode = exitCode;
        Lines = lines;
        Stderr = stderr;
        CommandLine = commandLine;
        Values = Fields(line);
    }

    public string Line { get; }

    public int ExitCode { get; }

    public IReadOnlyList<string> Lines { get; }

    public string Stderr { get; }

    public string CommandLine { get; }

    /// <summary>The key=value fields; <c>reason</c> runs to the end of the line.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    public bool Ok => Values.TryGetValue("status", out string? status) && status == "ok" && ExitCode == 0;

    public string? Reason => Values.TryGetValue("reason", out string? reason) ? reason : null;

    public string this[string key] => Values[key];

    /// <summary>The EVENT lines whose name is <paramref name="name"/>, as fields.</summary>
    public IEnumerable<IReadOnlyDictionary<string, string>> Events(string name) =>
        Lines.Where(l => l.StartsWith("EVENT ", StringComparison.Ordinal))
            .Select(Fields)
            .Where(f => f.TryGetValue("name", out string? n) && n == name);

    public override string ToString() => $"{CommandLine}: exit {ExitCode}, {Line}\nstdout:\n{string.Join('\n', Lines)}\nstderr:\n{Stderr}";

    /// <summary>Splits a line into its key=value fields (the first word, the kind, is skipped).</summary>
    public static IReadOnlyDictionary<string, string> Fields(string line)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        int reason = line.IndexOf(" reason=", StringComparison.Ordinal);
        string head = reason < 0 ? line : line[..reason];
        foreach (string word in head.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                fields[word[..eq]] = word[(eq + 1)..];
            }
        }

        if (reason >= 0)
        {
            fields["reason"] = line[(reason + " reason=".Length)..];
        }

        return fields;
    }
}
