using System.Globalization;
using System.Net;

namespace TcpChan.Cli;

/// <summary>A host (name, IPv4 or IPv6 address) and a port, written <c>HOST:PORT</c> or <c>[V6]:PORT</c>.</summary>
internal readonly record struct HostPort(string Host, int Port)
{
    public static HostPort Parse(string text, string what)
    {
        var parts = SplitColons(text);
        if (parts.Count != 2)
        {
            throw new CliException(ExitCodes.Usage, $"{what}: expected HOST:PORT, got '{text}'.");
        }

        return new HostPort(ParseHost(parts[0], text, what), ParsePort(parts[1], text, what));
    }

    public static bool TryParse(string text, out HostPort value)
    {
        try
        {
            value = Parse(text, "target");
            return true;
        }
        catch (CliException)
        {
            value = default;
            return false;
        }
    }

    /// <summary>True when <paramref name="other"/> names the same host (case-insensitively, as written) and port.</summary>
    public bool Matches(HostPort other) =>
        Port == other.Port && string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase);

    /// <summary>The endpoint to bind or connect: an address as it is, a name through DNS.</summary>
    public EndPoint ToEndPoint() => IPAddress.TryParse(Host, out var address) ? new IPEndPoint(address, Port) : new DnsEndPoint(Host, Port);

    /// <summary>True when the host is a loopback address or <c>localhost</c>.</summary>
    public bool IsLoopback => string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    public override string ToString() => Format(Host, Port);

    public static string Format(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";

    public static string Format(IPEndPoint endPoint) => Format(endPoint.Address.ToString(), endPoint.Port);

    /// <summary>Splits on colons outside brackets, so that <c>[::1]:80</c> is two parts; brackets are kept.</summary>
    public static List<string> SplitColons(string text)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '[':
                    depth++;
                    break;
                case ']':
                    depth--;
                    break;
                case ':' when depth == 0:
                    parts.Add(text[start..i]);
                    start = i + 1;
                    break;
            }
        }

        parts.Add(text[start..]);
        return parts;
    }

    public static string ParseHost(string host, string text, string what)
    {
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                throw new CliException(ExitCodes.Usage, $"{what}: '{host}' in '{text}' is not an IPv6 address.");
            }
        }

        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '[' or ']' or '/'))
        {
            throw new CliException(ExitCodes.Usage, $"{what}: bad host '{host}' in '{text}'.");
        }

        return host;
    }

    public static int ParsePort(string port, string text, string what)
    {
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value > 65535)
        {
            throw new CliException(ExitCodes.Usage, $"{what}: bad port '{port}' in '{text}' (0 to 65535).");
        }

        return value;
    }
}

/// <summary>
/// A forward: <c>-L [BIND:]LOCALPORT:HOST:PORT</c> listens locally and sends each connection to
/// HOST:PORT as the server reaches it; <c>-R REMOTEPORT:HOST:PORT</c> has the server listen and
/// sends each connection to HOST:PORT as this side reaches it.
/// </summary>
internal sealed record ForwardSpec(string BindHost, int ListenPort, HostPort Target, string Text)
{
    public static ForwardSpec ParseLocal(string text)
    {
        var parts = HostPort.SplitColons(text);
        if (parts.Count is not (3 or 4))
        {
            throw new CliException(ExitCodes.Usage, $"-L: expected [BIND:]LOCALPORT:HOST:PORT, got '{text}'.");
        }

        string bind = parts.Count == 4 ? HostPort.ParseHost(parts[0], text, "-L") : "127.0.0.1";
        int o = parts.Count - 3;
        return new ForwardSpec(
            bind,
            HostPort.ParsePort(parts[o], text, "-L"),
            new HostPort(HostPort.ParseHost(parts[o + 1], text, "-L"), HostPort.ParsePort(parts[o + 2], text, "-L")),
            text);
    }

    public static ForwardSpec ParseRemote(string text)
    {
        var parts = HostPort.SplitColons(text);
        if (parts.Count != 3)
        {
            throw new CliException(ExitCodes.Usage, $"-R: expected REMOTEPORT:HOST:PORT, got '{text}'.");
        }

        int port = HostPort.ParsePort(parts[0], text, "-R");
        if (port == 0)
        {
            throw new CliException(ExitCodes.Usage, $"-R: the remote port in '{text}' must not be 0.");
        }

        return new ForwardSpec(string.Empty, port, new HostPort(HostPort.ParseHost(parts[1], text, "-R"), HostPort.ParsePort(parts[2], text, "-R")), text);
    }
}
