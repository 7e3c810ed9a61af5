using System.Globalization;
using SharpFuzz;

namespace TcpChan.Fuzz;

/// <summary>
/// The AFL++ harness (--afl): SharpFuzz's fork server runs each input AFL++ gives, decoded by
/// <see cref="AflInput"/>, through the same <see cref="CaseRunner"/> and invariants as the
/// in-process fuzzer; a failure throws, which SharpFuzz reports to AFL++ as a crash. Coverage
/// comes from a copy of TcpChan.Core.dll instrumented by the sharpfuzz tool (Fuzz/afl.sh).
/// Outside afl-fuzz it runs the input on standard input once and throws on a failure.
/// </summary>
public static class AflHarness
{
    /// <summary>Seeds larger than this are left out (AFL++ mutates small inputs best; its limit is 1 MiB).</summary>
    public const int MaxSeedBytes = 128 * 1024;

    /// <summary>A failure of the invariants, thrown out of the fork server's action (AFL++ records a crash).</summary>
    public sealed class InvariantFailure(FuzzFailure failure) : Exception($"{failure.Key}: {failure.Detail}")
    {
        public FuzzFailure Failure { get; } = failure;
    }

    /// <summary>Runs under afl-fuzz (Fuzzer.OutOfProcess: a hang or a dead process costs a restart, not the run).</summary>
    public static int Run(bool strict)
    {
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            Execute(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), strict);
        });
        return 0;
    }

    /// <summary>One input: throws <see cref="InvariantFailure"/> when it fails (known core bugs aside unless strict).</summary>
    public static void Execute(ReadOnlySpan<byte> input, bool strict)
    {
        var fuzzCase = AflInput.Decode(input);
        var result = CaseRunner.Run(fuzzCase, record: fuzzCase.Kind == "pair");
        if (result.Failed && (strict || KnownIssues.Classify(result.Failures) is null))
        {
            throw new InvariantFailure(result.Failures[0]);
        }
    }

    /// <summary>
    /// Writes AFL++ seed files made by the structure-aware generator: the golden conversations,
    /// <paramref name="pairs"/> pair conversations with the recording of each side, and random
    /// bytes after a handshake. Returns how many; a seed that fails is reported and left out.
    /// </summary>
    public static int WriteSeeds(string directory, int seed, int pairs, string failureDirectory, TextWriter output)
    {
        Directory.CreateDirectory(directory);
        var r = new Random(seed);
        int written = 0;
        void Write(string name, FuzzCase fuzzCase)
        {
            var result = CaseRunner.Run(fuzzCase, record: fuzzCase.Kind == "pair");
            if (result.Failed)
            {
                Directory.CreateDirectory(failureDirectory);
                string file = Path.Combine(failureDirectory, $"afl-seed-{name}-seed{seed}.json");
                fuzzCase.Failure = result.Failures[0].ToString();
                File.WriteAllText(file, fuzzCase.ToJson());
                output.WriteLine($"FAILURE in seed {name} ({result.Failures[0].Key}), left out; saved to {file}");
                return;
            }

            var bytes = AflInput.Encode(fuzzCase);
            if (bytes.Length <= MaxSeedBytes)
            {
                File.WriteAllBytes(Path.Combine(directory, name), bytes);
                written++;
            }
        }

        var golden = Generators.GoldenSeeds();
        for (int i = 0; i < golden.Count; i++)
        {
            Write(string.Create(CultureInfo.InvariantCulture, $"golden-{i:D3}"), golden[i]);
        }

        for (int i = 0; i < pairs; i++)
        {
            var pair = Generators.RandomPair(r, $"seed {seed} pair {i}");
            var result = CaseRunner.Run(pair, record: true);
            Write(string.Create(CultureInfo.InvariantCulture, $"pair-{i:D3}"), pair);
            for (int k = 0; k < result.Recordings.Count; k++)
            {
                Write(string.Create(CultureInfo.InvariantCulture, $"pair-{i:D3}-side{k}"), result.Recordings[k]);
            }
        }

        for (int i = 0; i < Math.Max(1, pairs / 2); i++)
        {
            Write(string.Create(CultureInfo.InvariantCulture, $"random-{i:D3}"), FuzzEngine.RandomBytes(r).ToCase(r, $"seed {seed} random {i}"));
        }

        return written;
    }
}
