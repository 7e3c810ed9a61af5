using System.Text;
using TcpChan.Core;

namespace TcpChan.Cli;

/// <summary>
/// The tool's tiny protocol on top of TcpChan channel labels (protocol version 1). Each label is
/// a verb, a space, and its arguments:
/// <list type="bullet">
/// <item><c>auth</c> or <c>auth TOKEN</c>: the client's first channel. The server answers
/// <c>ok</c> and a newline, then ends the channel; or resets it with <see cref="TunnelError.WrongToken"/>
/// and closes the session.</item>
/// <item><c>connect HOST:PORT</c>: connect to HOST:PORT and relay the channel to it. Opened by
/// the client for -L (the server checks its --allow list) and by the server for -R (the client
/// checks its -R targets). Refusals are resets with <see cref="TunnelError.TargetNotAllowed"/> or
/// <see cref="TunnelError.TargetUnreachable"/>.</item>
/// <item><c>listen PORT HOST:PORT</c>: the client asks the server to listen on PORT (if its
/// --allow-listen list has it) and to open <c>connect HOST:PORT</c> for every connection. The
/// server answers <c>ok ADDRESS:PORT</c> and a newline and keeps the channel open; the listener
/// lives as long as the channel. Refusals: <see cref="TunnelError.ListenNotAllowed"/>,
/// <see cref="TunnelError.ListenFailed"/>.</item>
/// </list>
/// </summary>
internal static class Protocol
{
    public const string Auth = "auth";
    public const string Connect = "connect";
    public const string Listen = "listen";
    public const string Ok = "ok";

    /// <summary>The longest token: a label holds 255 bytes, less <c>"auth "</c>.</summary>
    public const int MaxTokenBytes = 250;

    public static string AuthLabel(string? token) => string.IsNullOrEmpty(token) ? Auth : $"{Auth} {token}";

    public static string ConnectLabel(HostPort target) => $"{Connect} {target}";

    public static string ListenLabel(int port, HostPort target) => $"{Listen} {port} {target}";

    /// <summary>Splits a label into its verb and the rest (empty when there is none).</summary>
    public static (string Verb, string Argument) Split(string? label)
    {
        if (string.IsNullOrEmpty(label))
        {
            return (string.Empty, string.Empty);
        }

        int space = label.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? (label, string.Empty) : (label[..space], label[(space + 1)..]);
    }

    /// <summary>Reads one short line (the answer to auth or listen), without the newline.</summary>
    public static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 512)
        {
            int n = await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false);
            if (n == 0 || one[0] == (byte)'\n')
            {
                break;
            }

            bytes.Add(one[0]);
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public static async Task WriteLineAsync(Stream stream, string line, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The reset codes the tool sends (<see cref="ErrorCode.ApplicationBase"/> + n).</summary>
internal enum TunnelError : uint
{
    /// <summary>The target of a <c>connect</c> is not on the receiver's allow list.</summary>
    TargetNotAllowed = ErrorCode.ApplicationBase + 1,

    /// <summary>The receiver could not connect to the target (refused, no route, name not found, timeout).</summary>
    TargetUnreachable = ErrorCode.ApplicationBase + 2,

    /// <summary>The token is wrong, or the server needs one and none was given.</summary>
    WrongToken = ErrorCode.ApplicationBase + 3,

    /// <summary>A channel other than <c>auth</c> came before a successful <c>auth</c>.</summary>
    AuthRequired = ErrorCode.ApplicationBase + 4,

    /// <summary>The port of a <c>listen</c> is not on the server's --allow-listen list.</summary>
    ListenNotAllowed = ErrorCode.ApplicationBase + 5,

    /// <summary>The server could not listen on the port (in use).</summary>
    ListenFailed = ErrorCode.ApplicationBase + 6,

    /// <summary>The label is not one of the tool's.</summary>
    BadRequest = ErrorCode.ApplicationBase + 7,
}

internal static class TunnelErrors
{
    public static ErrorCode Code(this TunnelError error) => (ErrorCode)(uint)error;

    /// <summary>Words for a reset code, the tool's own or the protocol's.</summary>
    public static string Describe(ErrorCode? code) => code switch
    {
        null => "the channel ended",
        (ErrorCode)(uint)TunnelError.TargetNotAllowed => "target not allowed",
        (ErrorCode)(uint)TunnelError.TargetUnreachable => "target unreachable",
        (ErrorCode)(uint)TunnelError.WrongToken => "wrong token",
        (ErrorCode)(uint)TunnelError.AuthRequired => "authentication required",
        (ErrorCode)(uint)TunnelError.ListenNotAllowed => "listen port not allowed",
        (ErrorCode)(uint)TunnelError.ListenFailed => "listen failed (port in use?)",
        (ErrorCode)(uint)TunnelError.BadRequest => "request not understood",
        ErrorCode.Refused => "refused (too many channels, or the server is shutting down)",
        ErrorCode.Cancel => "reset",
        { } other => $"reset ({other})",
    };
}
