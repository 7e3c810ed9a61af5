namespace TcpChan.Cli;

/// <summary>The tool's exit codes; Cli/README.md and <c>tcpchan --help</c> list them.</summary>
internal static class ExitCodes
{
    /// <summary>Done, or stopped by Ctrl+C / SIGTERM after a graceful shutdown.</summary>
    public const int Ok = 0;

    /// <summary>An unexpected error (a bug, or an I/O failure not covered below).</summary>
    public const int Failure = 1;

    /// <summary>Bad arguments: a malformed option, a missing file, an unsafe combination.</summary>
    public const int Usage = 2;

    /// <summary>A port to listen on is in use (or cannot be bound): locally, or on the server for -R.</summary>
    public const int PortInUse = 3;

    /// <summary>The server could not be reached (refused, no route, name not found, timed out).</summary>
    public const int ServerUnreachable = 4;

    /// <summary>The server refused what was asked: a target not on its --allow list (or unreachable from it), or an -R port not on its --allow-listen list.</summary>
    public const int Refused = 5;

    /// <summary>The handshake failed: not a tcpchan server, TLS on one side only, certificate not trusted, protocol version 0.</summary>
    public const int HandshakeFailed = 6;

    /// <summary>The server rejected the token (or needs one and none was given).</summary>
    public const int WrongToken = 7;

    /// <summary>The demo found a wrong response or more than one tunnel connection.</summary>
    public const int DemoFailed = 8;

    /// <summary>Stopped by a second Ctrl+C before the graceful shutdown finished.</summary>
    public const int Interrupted = 130;

    /// <summary>The lines of --help that explain the codes.</summary>
    public const string Help =
        "Exit codes: 0 ok (also after Ctrl+C), 1 unexpected error, 2 bad usage, 3 port in use, " +
        "4 server unreachable, 5 refused by the server (target or -R port not allowed, or target unreachable), " +
        "6 handshake failed (not tcpchan, TLS mismatch, untrusted certificate), 7 wrong token, 8 demo check failed, " +
        "130 second Ctrl+C.";
}

/// <summary>An error that ends the command with a message for the user and an exit code from <see cref="ExitCodes"/>.</summary>
internal sealed class CliException : Exception
{
    public CliException(int exitCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }
}
