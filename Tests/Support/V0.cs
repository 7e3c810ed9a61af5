using TcpChan.Core;

namespace TcpChan.Tests.Support;

/// <summary>
/// Options for a version-0-only connection (<see cref="ConnectionOptions.MaxVersion"/> = 0), which
/// behaves like the Python tcpchan 0.1.1 reference: random ids, close frames, exact v0 bytes.
/// The version-0 tests build every connection with these, since the default is version 1.
/// </summary>
public static class V0
{
    /// <summary>Version-0 options; <paramref name="seed"/> seeds the random channel ids.</summary>
    public static ConnectionOptions Options(uint magic = Wire.Magic, int? seed = null) =>
        TestOptions.For(0, magic, seed);
}

/// <summary>Options for a connection whose newest version is <c>maxVersion</c>, for tests that run on both versions.</summary>
public static class TestOptions
{
    public static ConnectionOptions For(byte maxVersion, uint magic = Wire.Magic, int? seed = null) => new()
    {
        MaxVersion = maxVersion,
        HandshakeMagic = magic,
        Random = seed is { } s ? new Random(s) : null,
    };
}
