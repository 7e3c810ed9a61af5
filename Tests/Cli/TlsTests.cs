using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace TcpChan.Tests.Cli;

/// <summary>The session connection over TLS: a certificate from PEM files, trusted with --ca; mismatches fail the handshake (exit code 6).</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tcpchan-tls-").FullName;

    public TlsTests()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        File.WriteAllText(CertFile, certificate.ExportCertificatePem());
        File.WriteAllText(KeyFile, key.ExportPkcs8PrivateKeyPem());
    }

    private string CertFile => Path.Combine(_dir, "cert.pem");

    private string KeyFile => Path.Combine(_dir, "key.pem");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Forward_over_tls_with_the_servers_certificate_as_ca_relays()
    {
        await using var http = await HttpTarget.StartAsync();
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", http.HostPort, "--tls", "--cert", CertFile, "--key", KeyFile);
        await using var _ = serve;
        var (forward, local) = await CliProcess.StartForwardAsync(port, http.HostPort, "--tls", "--ca", CertFile);
        await using var __ = forward;

        Assert.Equal(["hello 1", "hello 2"], await HttpTarget.GetAsync(local, [1, 2]));
        await forward.WaitForAsync(@"session up: .*\(TLS, certificate checked against --ca\)");
        Assert.DoesNotContain("plaintext", forward.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_untrusted_certificate_or_a_plaintext_client_fails_the_handshake_with_exit_code_6()
    {
        var (serve, port) = await CliProcess.StartServeAsync(0, "--allow", "127.0.0.1:1", "--tls", "--cert", CertFile, "--key", KeyFile);
        await using var _ = serve;

        await using var untrusted = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{port}", "-L", "0:127.0.0.1:1", "--tls");
        await using var plaintext = CliProcess.Start("forward", "forward", "--server", $"127.0.0.1:{port}", "-L", "0:127.0.0.1:1");

        Assert.Equal(6, await untrusted.WaitForExitAsync());
        Assert.Contains("is not trusted", untrusted.Output, StringComparison.Ordinal);
        Assert.Equal(6, await plaintext.WaitForExitAsync());
        Assert.Contains("closed the connection during the handshake (does the server need --tls?)", plaintext.Output, StringComparison.Ordinal);
        await serve.WaitForAsync("handshake failed: .*a plaintext client");
    }
}
