using TcpChan.Fuzz;
using Xunit;

namespace TcpChan.Tests.Fuzz;

/// <summary>A short, fixed pass of the fuzzer (Fuzz/): the core never crashes, hangs, loses or invents a byte on these inputs.</summary>
public class FuzzSmokeTests
{
    [Fact]
    public void Five_thousand_fuzz_inputs_find_no_failure()
    {
        var summary = FuzzEngine.Run(new FuzzSettings
        {
            Seed = 20261122,
            MaxInputs = 5_000,
            Seconds = 60, // a guard only: 5,000 inputs take a few seconds
            Minimize = false,
            HangSeconds = 30, // tests run in parallel on a small machine: a real hang is what this catches
        });

        Assert.True(summary.Passed, summary.ToString());
        Assert.Equal(5_000, summary.Inputs);
        Assert.True(summary.Pairs > 100, summary.ToString());
        Assert.True(summary.DistinctOutcomes > 50, summary.ToString());
    }

    [Fact]
    public void A_saved_case_round_trips_through_json_and_replays_the_same()
    {
        var pair = Generators.RandomPair(new Random(7), "test");
        var copy = FuzzCase.FromJson(pair.ToJson());
        Assert.Equal(pair.ToJson(), copy.ToJson());
        var first = CaseRunner.Run(pair, record: true);
        var second = CaseRunner.Run(copy, record: true);
        Assert.Empty(first.Failures);
        Assert.Equal(first.Outcome, second.Outcome);
        Assert.Equal(2, first.Recordings.Count);
    }

    [Fact]
    public void The_golden_vectors_are_embedded_whole()
    {
        var golden = Generators.GoldenFrames();
        Assert.Equal(9, golden.Count);
        Assert.Equal(65_543, golden[^1].Bytes.Length);
        Assert.All(Generators.GoldenSeeds(), seed => Assert.Empty(CaseRunner.Run(seed).Failures));
    }
}
