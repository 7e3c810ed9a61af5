using System.Security.Cryptography;

namespace TcpChan.Tests.Cli;

/// <summary>Deterministic pseudo-random data in blocks, and its hash, without holding it all.</summary>
internal static class Data
{
    public const int BlockSize = 1024 * 1024;

    public static IEnumerable<byte[]> Blocks(long size, int seed)
    {
        var random = new Random(seed);
        for (long left = size; left > 0; left -= BlockSize)
        {
            var block = new byte[(int)Math.Min(BlockSize, left)];
            random.NextBytes(block);
            yield return block;
        }
    }

    public static byte[] Sha256(long size, int seed)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var block in Blocks(size, seed))
        {
            hash.AppendData(block);
        }

        return hash.GetHashAndReset();
    }
}
