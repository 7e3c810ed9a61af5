using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// TLS for the rows over the emulated link: <see cref="SslStream"/> with a certificate generated
/// in process (ECDSA P-256, self-signed, a day either side of now), the protocol version the
/// platform picks (TLS 1.3 with OpenSSL 3), and a client that trusts exactly that certificate.
/// </summary>
internal static class BenchTls
{
    private const string Host = "tcpchan-bench";

    private static readonly Lazy<X509Certificate2> Certificate = new(() =>
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={Host}", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
    });

    private static readonly Lazy<SslStreamCertificateContext> Context = new(() => SslStreamCertificateContext.Create(Certificate.Value, null, offline: true));

    /// <summary>The protocol the last client handshake negotiated (for the log), or null.</summary>
    public static string? LastProtocol { get; private set; }

    /// <summary>Runs the client's handshake over <paramref name="inner"/>; the result owns it.</summary>
    public static async Task<Stream> ClientAsync(Stream inner, CancellationToken cancellationToken)
    {
        var expected = Certificate.Value.GetCertHash();
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = Host,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHash().AsSpan().SequenceEqual(expected),
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        LastProtocol = ssl.SslProtocol.ToString();
        return ssl;
    }

    /// <summary>Runs the server's handshake over <paramref name="inner"/>; the result owns it.</summary>
    public static async Task<Stream> ServerAsync(Stream inner, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = Context.Value }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return ssl;
    }
}
