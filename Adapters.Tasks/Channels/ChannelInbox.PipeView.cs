using System.Buffers;

namespace TcpChan.Internal;

// The pipe view's reads: the held blocks in place, consumed as the pipe reader advances.
internal sealed partial class ChannelInbox
{
    // ---- the pipe view ---------------------------------------------------------------------

    /// <summary>From now on the pipe view reads; stream reads are refused.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void AttachPipeView()
    {
        lock (Lock)
        {
            if (_pipeView)
            {
                throw new InvalidOperationException("This channel already has a pipe view.");
            }

            _pipeView = true;
            _pipeWaiter = new AsyncSignal();
        }
    }

    /// <summary>
    /// Everything held, in place (valid until the next <see cref="Advance"/>), and whether
    /// nothing more will come: false for <paramref name="ended"/> while the channel is open.
    /// </summary>
    /// <exception cref="TcpChanException">The channel failed.</exception>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public ReadOnlySequence<byte> TryPeek(out bool ended)
    {
        lock (Lock)
        {
            if (_state == State.Failed)
            {
                throw Rethrow(_failure!);
            }

            ended = _state != State.Open;
            return _held.AsSequence();
        }
    }

    /// <summary>The pipe view consumed <paramref name="count"/> bytes from the start: their blocks go back, their credit too (in batches).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Advance(long count)
    {
        bool creditDue;
        lock (Lock)
        {
            if (count > _held.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(count));
            }

            _held.Skip(count);
            creditDue = TakeLocked((int)count) || (_held.Length == 0 && _state == State.Ended && _taken > 0);
        }

        if (creditDue)
        {
            GiveCreditBack();
        }
    }

    /// <summary>The pipe view's reader completed: what is held and what still arrives is dropped, and its credit given back.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void Discard()
    {
        lock (Lock)
        {
            _discarding = true;
            TakeLocked((int)_held.Length);
            _held.Clear();
        }

        GiveCreditBack();
    }

    /// <summary>Waits until more than <paramref name="examined"/> bytes are held, or the channel ended or failed.</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public ValueTask WaitForDataAsync(long examined, CancellationToken cancellationToken)
    {
        lock (Lock)
        {
            if (_held.Length > examined || _state != State.Open)
            {
                return default;
            }
        }

        // A delivery in between sets the signal, which remembers it: no wake-up is missed.
        return _pipeWaiter!.WaitAsync(cancellationToken);
    }

    /// <summary>Wakes the pipe view's wait without data (its CancelPendingRead).</summary>
    [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
    public void WakePipeView() => _pipeWaiter?.Set();
}
