using System.Globalization;
using Spectre.Console;

namespace TcpChan.Cli;

/// <summary>How much a <see cref="Log"/> says.</summary>
internal enum LogLevel
{
    Debug,
    Info,
    Warning,
    Error,
    None,
}

/// <summary>
/// Standard error, shared by every log line and the live --stats line. While a Spectre status
/// display runs, lines go through its console so that they print above it; while a plain
/// carriage-return stats line is shown, it is cleared before a line and drawn again after.
/// </summary>
internal static class Output
{
    private static readonly object Gate = new();
    private static IAnsiConsole? _live;
    private static string? _statusLine;

    /// <summary>Spectre's console on standard error: no ANSI codes when redirected.</summary>
    public static IAnsiConsole Stderr { get; } = Create(Console.Error, Console.IsErrorRedirected);

    /// <summary>Spectre's console on standard output: no ANSI codes, and no wrapping at 80 columns, when redirected.</summary>
    public static IAnsiConsole Stdout { get; } = Create(Console.Out, Console.IsOutputRedirected);

    /// <summary>True when standard error is a terminal that takes ANSI codes (live displays work).</summary>
    public static bool StderrIsInteractive => !Console.IsErrorRedirected && Stderr.Profile.Capabilities.Ansi && Stderr.Profile.Capabilities.Interactive;

    /// <summary>Writes one line to standard error.</summary>
    public static void Line(string text)
    {
        lock (Gate)
        {
            if (_live is not null)
            {
                _live.WriteLine(text, Style.Plain);
                return;
            }

            if (_statusLine is not null)
            {
                Console.Error.Write("\r" + new string(' ', Math.Min(_statusLine.Length, 200)) + "\r");
            }

            Console.Error.WriteLine(text);
            if (_statusLine is not null)
            {
                Console.Error.Write(_statusLine);
            }
        }
    }

    /// <summary>Lines go through <paramref name="console"/> (a live display's) until <see cref="EndLive"/>.</summary>
    public static void BeginLive(IAnsiConsole console)
    {
        lock (Gate)
        {
            _live = console;
        }
    }

    public static void EndLive()
    {
        lock (Gate)
        {
            _live = null;
        }
    }

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected)
        {
            console.Profile.Width = 160;
        }

        return console;
    }

    /// <summary>Draws (or with null, removes) the carriage-return status line.</summary>
    public static void StatusLine(string? text)
    {
        lock (Gate)
        {
            int old = _statusLine?.Length ?? 0;
            _statusLine = text;
            Console.Error.Write("\r" + (text ?? string.Empty).PadRight(Math.Min(old, 200)) + (text is null ? "\r" : string.Empty));
        }
    }
}

/// <summary>Timestamped lines of one part of the tool (<c>serve</c>, <c>forward</c>) on standard error.</summary>
internal sealed class Log
{
    private readonly string _component;

    public Log(string component, LogLevel minimum)
    {
        _component = component;
        Minimum = minimum;
    }

    public LogLevel Minimum { get; }

    public bool IsEnabled(LogLevel level) => level >= Minimum;

    public void Debug(string message) => Write(LogLevel.Debug, message);

    public void Info(string message) => Write(LogLevel.Info, message);

    public void Warn(string message) => Write(LogLevel.Warning, message);

    public void Error(string message) => Write(LogLevel.Error, message);

    public void Write(LogLevel level, string message)
    {
        if (level < Minimum)
        {
            return;
        }

        string tag = level switch
        {
            LogLevel.Warning => "warning: ",
            LogLevel.Error => "error: ",
            LogLevel.Debug => "debug: ",
            _ => string.Empty,
        };
        Output.Line($"{DateTime.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {_component}: {tag}{message}");
    }

    /// <summary>The adapters' logger (sessions, handshakes), at this log's level, lines tagged <c>tcpchan</c>.</summary>
    public Microsoft.Extensions.Logging.ILogger AsLogger() => new Adapter(this);

    private sealed class Adapter(Log log) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => log.IsEnabled(Map(logLevel));

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // The adapters' information lines (session established, ended) are said better by
            // the tool itself; pass them through only when debugging.
            var level = Map(logLevel) == LogLevel.Info ? LogLevel.Debug : Map(logLevel);
            if (log.IsEnabled(level))
            {
                log.Write(level, "tcpchan: " + formatter(state, exception));
            }
        }

        private static LogLevel Map(Microsoft.Extensions.Logging.LogLevel level) => level switch
        {
            Microsoft.Extensions.Logging.LogLevel.Trace or Microsoft.Extensions.Logging.LogLevel.Debug => LogLevel.Debug,
            Microsoft.Extensions.Logging.LogLevel.Information => LogLevel.Info,
            Microsoft.Extensions.Logging.LogLevel.Warning => LogLevel.Debug,
            Microsoft.Extensions.Logging.LogLevel.Error or Microsoft.Extensions.Logging.LogLevel.Critical => LogLevel.Warning,
            _ => LogLevel.None,
        };
    }
}
