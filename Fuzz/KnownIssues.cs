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

    public static readonly IReadOnlyList<Issue> All =
    [
        new(
            "v0-consume-throws",
            "Version 0: Channel.Consume(n) throws ArgumentOutOfRangeException for n bytes just delivered (Unconsumed is never counted on version 0).",
            f => f.Key.StartsWith("spurious-local-exception:consume", StringComparison.Ordinal) && f.Detail.Contains(" v0]", StringComparison.Ordinal)),
        new(
            "v1-close-stalls-writer",
            "Version 1: after the reader's Channel.Close(), dropped bytes earn no channel credit, so a writer with more than its window to send stalls for ever and the channel never completes.",
            f => f.Key == "pair-stalled" && f.Detail.Contains("stopped reading (Close)", StringComparison.Ordinal)),
        new(
            "v1-end-of-data-after-close",
            "Version 1: when OnEndOfData completes the channel (CompleteWrites with everything consumed), ChannelEndOfData is queued after the channel's ChannelClosed.",
            f => f.Key == "event-for-closed-channel" && f.Detail.Contains("ChannelEndOfData", StringComparison.Ordinal)),
        new(
            "v1-writable-after-close",
            "Version 1: when OnWritable closes the channel (Abort), ChannelWritable is queued after the channel's ChannelClosed.",
            f => f.Key == "event-for-closed-channel" && f.Detail.Contains("ChannelWritable", StringComparison.Ordinal)),
        new(
            "create-in-onclosed-survives",
            "Close(), ConnectionLost() and a connection failure close the channels before they change the state, so a channel created from OnClosed (CreateChannel still works then) stays open afterwards, and its frames go out after the end (version 0 may even give it the id being closed, so its ChannelCreated comes before that id's ChannelClosed).",
            f => f.Detail.Contains("[created from OnClosed]", StringComparison.Ordinal)
                && (f.Key.StartsWith("event-after-end:", StringComparison.Ordinal) || f.Key is "open-after-end" or "pair-unexpected-end" or "open-count" or "created-twice" or "closed-not-open")),
    ];

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
