namespace TcpChan.Cli;

/// <summary>What <c>tcpchan forward</c> does.</summary>
internal sealed record ClientSettings : TunnelSettings
{
    public required HostPort Server { get; init; }

    public IReadOnlyList<ForwardSpec> Local { get; init; } = [];

    public IReadOnlyList<ForwardSpec> Remote { get; init; } = [];

    /// <summary>TLS settings, or null for a plaintext link.</summary>
    public TlsClientSettings? Tls { get; init; }

    /// <summary>Retry (rather than exit) when the first connection fails.</summary>
    public bool KeepTrying { get; init; }

    /// <summary>How long a local connection waits for a session before it is refused.</summary>
    public TimeSpan WaitForSession { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromSeconds(0.25);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);
}
