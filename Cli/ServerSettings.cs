using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace TcpChan.Cli;

/// <summary>What <c>tcpchan serve</c> does.</summary>
/// <param name="Listen">Where sessions are accepted.</param>
/// <param name="Allow">Targets clients may connect to (<c>--allow</c>); empty: none.</param>
/// <param name="AllowListen">Where clients may have this server listen for -R (<c>--allow-listen</c>); empty: nowhere.</param>
/// <param name="Certificate">The TLS certificate, or null for plaintext.</param>
internal sealed record ServerSettings(IPEndPoint Listen, IReadOnlyList<HostPort> Allow, IReadOnlyList<IPEndPoint> AllowListen, X509Certificate2? Certificate) : TunnelSettings;
