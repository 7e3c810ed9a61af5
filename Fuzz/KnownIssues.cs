namespace TcpChan.Fuzz;

/// <summary>
/// Core bugs the fuzzer has found and reported, each with a skipped regression test in
/// Tests/Fuzz/. A failure that matches one is counted under "known core bugs" instead of as a
/// failure, so that a run still finds new ones (--strict counts them as failures). When the
/// core is fixed, delete the entry and un-skip its test.
/// </summary>
public static class KnownIssues
{
    public sealed record Issue(string Id, string Summary, Func<FuzzFailure, bool> Matches);

    // All five found so far (version-0 Consume, the stall after Close(), ChannelEndOfData and
    // ChannelWritable after ChannelClosed, a channel created from OnClosed while the connection
    // ends) are fixed in the core; their tests run in Tests/Fuzz/.
    public static readonly IReadOnlyList<Issue> All = [];

    /// <summary>The known issue every failure of an input matches, or null when one is new.</summary>
    public static Issue? Classify(IReadOnlyList<FuzzFailure> failures)
    {
        Issue? found = null;
        foreach (var failure in failures)
        {
            var issue = All.FirstOrDefault(i => i.Matches(failure));
            if (issue is null)
            {
                return null;
            }

            found ??= issue;
        }

        return found;
    }
}
