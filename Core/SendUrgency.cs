namespace TcpChan.Core;

/// <summary>
/// The urgencies of a channel's data (<see cref="Channel.Urgency"/>): 0 is the most urgent, 7
/// the least, as in RFC 9218. When several channels have data to send, the more urgent channels'
/// frames go first; channels of one urgency take turns, one frame each.
/// </summary>
public static class SendUrgency
{
    /// <summary>The most urgent: interactive traffic that must not wait behind anything.</summary>
    public const int Most = 0;

    /// <summary>What a channel starts with.</summary>
    public const int Default = 3;

    /// <summary>The least urgent: background transfers.</summary>
    public const int Least = 7;
}
