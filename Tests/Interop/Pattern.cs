using System.Buffers.Binary;
using System.Security.Cryptography;

namespace TcpChan.Tests.Interop;

/// <summary>
/// The interop program's test bytes (Interop/yamux/main.go, "Pattern bytes"): xorshift32 words,
/// little-endian, from a state of key * 2654435761 + 1 (1 if that is 0). Either side can check
/// what it received against what the other side sent without an echo.
/// </summary>
internal sealed class Pattern
{
    private uint _state;
    private uint _word;
    private int _used = 4;

    public Pattern(uint key)
    {
        _state = unchecked((key * 2654435761u) + 1);
        if (_state == 0)
        {
            _state = 1;
        }
    }

    /// <summary>Fills <paramref name="destination"/> with the next bytes.</summary>
    public void Fill(Span<byte> destination)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, _word);
        for (int i = 0; i < destination.Length; i++)
        {
            if (_used == 4)
            {
                uint x = _state;
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                _state = _word = x;
                BinaryPrimitives.WriteUInt32LittleEndian(word, x);
                _used = 0;
            }

            destination[i] = word[_used++];
        }
    }

    public static byte[] Bytes(uint key, int length)
    {
        var bytes = new byte[length];
        new Pattern(key).Fill(bytes);
        return bytes;
    }

    /// <summary>The SHA-256 of the first <paramref name="length"/> bytes of <paramref name="key"/>, as lowercase hex.</summary>
    public static string Digest(uint key, long length)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var pattern = new Pattern(key);
        var chunk = new byte[64 * 1024];
        for (long left = length; left > 0; left -= chunk.Length)
        {
            var part = chunk.AsSpan(0, (int)Math.Min(chunk.Length, left));
            pattern.Fill(part);
            sha.AppendData(part);
        }

        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }
}
