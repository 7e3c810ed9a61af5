using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace TcpChan.Cli;

/// <summary>The shared secret: read from --token, --token-file or TCPCHAN_TOKEN, compared in constant time.</summary>
internal static class Token
{
    public const string EnvironmentVariable = "TCPCHAN_TOKEN";

    public static string? Load(string? token, FileInfo? file)
    {
        if (token is not null && file is not null)
        {
            throw new CliException(ExitCodes.Usage, "Give --token or --token-file, not both.");
        }

        if (file is not null)
        {
            try
            {
                token = File.ReadLines(file.FullName).FirstOrDefault()?.Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ExitCodes.Usage, $"Cannot read the token file {file.FullName}: {ex.Message}");
            }

            if (string.IsNullOrEmpty(token))
            {
                throw new CliException(ExitCodes.Usage, $"The token file {file.FullName} is empty.");
            }
        }

        token ??= Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (token is null)
        {
            return null;
        }

        if (token.Length == 0 || token.Any(char.IsWhiteSpace) || Encoding.UTF8.GetByteCount(token) > Protocol.MaxTokenBytes)
        {
            throw new CliException(ExitCodes.Usage, $"A token is 1 to {Protocol.MaxTokenBytes} bytes without spaces.");
        }

        return token;
    }

    /// <summary>True when <paramref name="presented"/> is the token; the time taken does not depend on where they differ.</summary>
    public static bool Matches(string expected, string presented) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)),
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}

/// <summary>TLS for the session connection: the server's certificate, the client's trust.</summary>
internal static class Tls
{
    public static X509Certificate2 LoadServerCertificate(FileInfo? cert, FileInfo? key)
    {
        if (cert is null || key is null)
        {
            throw new CliException(ExitCodes.Usage, "--tls needs --cert FILE and --key FILE (PEM).");
        }

        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(cert.FullName, key.FullName);
            if (OperatingSystem.IsWindows())
            {
                // SChannel wants a persisted key; a PKCS#12 round trip gives it one.
                var exported = certificate.Export(X509ContentType.Pkcs12);
                certificate.Dispose();
                certificate = X509CertificateLoader.LoadPkcs12(exported, null);
            }

            return certificate;
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CliException(ExitCodes.Usage, $"Cannot load the certificate {cert.FullName} with key {key.FullName}: {ex.Message}");
        }
    }

    public static X509Certificate2Collection LoadAuthorities(FileInfo file)
    {
        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPemFile(file.FullName);
            if (collection.Count == 0)
            {
                throw new CliException(ExitCodes.Usage, $"No certificate in {file.FullName}.");
            }

            return collection;
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.Usage, $"Cannot load the CA file {file.FullName}: {ex.Message}");
        }
    }

    public static SslServerAuthenticationOptions ServerOptions(X509Certificate2 certificate) => new()
    {
        ServerCertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null),
        ClientCertificateRequired = false,
        EnabledSslProtocols = SslProtocols.None, // the system's choice: TLS 1.2 and 1.3
    };
}

/// <summary>How the client checks the server's certificate: the system's roots, a CA file, or not at all.</summary>
internal sealed class TlsClientSettings
{
    private readonly X509Certificate2Collection? _authorities;
    private readonly bool _skipVerify;

    public TlsClientSettings(X509Certificate2Collection? authorities, bool skipVerify, string? serverName)
    {
        _authorities = authorities;
        _skipVerify = skipVerify;
        ServerName = serverName;
    }

    /// <summary>The name the certificate must carry; null: the --server host.</summary>
    public string? ServerName { get; }

    public bool SkipVerify => _skipVerify;

    public string Describe() => _skipVerify ? "TLS, certificate NOT verified" : _authorities is null ? "TLS" : "TLS, certificate checked against --ca";

    /// <summary>Runs the client handshake; the error says why the certificate was not accepted, if that was it.</summary>
    public async Task<SslStream> AuthenticateAsync(Stream inner, string host, CancellationToken cancellationToken)
    {
        string? rejection = null;
        string name = ServerName ?? host;
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = name,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                rejection = Check(certificate, errors, name);
                return rejection is null;
            },
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            return ssl;
        }
        catch (AuthenticationException ex) when (rejection is not null)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new AuthenticationException(rejection, ex);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private string? Check(X509Certificate? certificate, SslPolicyErrors errors, string name)
    {
        if (_skipVerify)
        {
            return null;
        }

        if (certificate is null)
        {
            return "the server sent no certificate";
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return $"the server's certificate ({certificate.Subject}) is not for the name '{name}' (use --server-name NAME, or a certificate for that name)";
        }

        if (_authorities is null)
        {
            return errors == SslPolicyErrors.None ? null : $"the server's certificate ({certificate.Subject}) is not trusted: {errors} (use --ca FILE for a private CA or self-signed certificate)";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (chain.Build(leaf))
        {
            return null;
        }

        string status = string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"the server's certificate ({certificate.Subject}) does not chain to --ca: {status}";
    }
}
