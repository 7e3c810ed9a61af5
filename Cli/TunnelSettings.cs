namespace TcpChan.Cli;

/// <summary>What both ends of a tunnel are told: the token, how long the handshake may take, how long open connections may finish on Ctrl+C.</summary>
internal abstract record TunnelSettings
{
    public string? Token { get; init; }

    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
