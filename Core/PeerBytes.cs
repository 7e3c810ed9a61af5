using System.Globalization;
using System.Text;

namespace TcpChan.Core;

/// <summary>
/// The words of a failed handshake whose peer did not answer as TcpChan: what it sent, in hex
/// and as text, so that "an HTTP server", "an SSH server" or "TLS" can be read off the message.
/// </summary>
internal static class PeerBytes
{
    private const int Shown = 16;

    /// <summary>The handshake failed on bytes that cannot start the expected handshake frame.</summary>
    public static string NotTcpChan(bool isClient, ReadOnlySpan<byte> sent, string? what = null) =>
        $"{Lead(isClient)}: it sent {Describe(sent)}{(what is null ? string.Empty : ", " + what)}.";

    /// <summary>A client's handshake reply did not come within <paramref name="timeout"/>; <paramref name="seen"/> is what came instead.</summary>
    public static string NoReply(TimeSpan timeout, ReadOnlySpan<byte> seen) => seen.IsEmpty
        ? $"{Lead(isClient: true)}: nothing came back within {Seconds(timeout)} of the handshake request "
            + "(a server that waits for its client to speak first, such as an HTTP or a TLS server; or a TcpChan server with another magic, which does not reply)."
        : $"{Lead(isClient: true)}: within {Seconds(timeout)} of the handshake request it sent no whole handshake reply, only {Describe(seen)}.";

    /// <summary>"2.5 s".</summary>
    public static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    /// <summary>"48 54 54 50 2F 31 2E 31 ("HTTP/1.1")": the first 16 bytes in hex and as printable ASCII; a TLS record is named.</summary>
    public static string Describe(ReadOnlySpan<byte> bytes)
    {
        var shown = bytes.Slice(0, Math.Min(bytes.Length, Shown));
        var hex = new StringBuilder(shown.Length * 3);
        var text = new StringBuilder(shown.Length);
        foreach (byte b in shown)
        {
            hex.Append(hex.Length == 0 ? string.Empty : " ").Append(b.ToString("X2", CultureInfo.InvariantCulture));
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        }

        string more = bytes.Length > Shown ? " ..." : string.Empty;
        string count = bytes.Length == 1 ? "1 byte" : $"{bytes.Length} bytes";
        return $"{count}, {hex}{more} (\"{text}\"{more}){(IsTlsRecord(bytes) ? ": a TLS record, so the peer speaks TLS" : string.Empty)}";
    }

    private static string Lead(bool isClient) => isClient ? "The server did not answer as TcpChan" : "The client did not speak TcpChan";

    // A TLS record starts with its content type (20 to 23: change cipher spec, alert,
    // handshake, application data) and major version 3.
    private static bool IsTlsRecord(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] is >= 0x14 and <= 0x17 && bytes[1] == 0x03;
}
