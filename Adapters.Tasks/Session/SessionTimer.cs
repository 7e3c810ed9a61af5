namespace TcpChan.Internal;

/// <summary>
/// The core's deadlines (handshake timeout, keepalive pings and timeout): tells the core the
/// time when its next deadline passes, and at least once a second (the handler's periodic
/// work: trimming idle pools).
/// </summary>
internal sealed class SessionTimer
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(1);
    private readonly SessionCore _core;
    private readonly CancellationTokenSource _stop = new();

    public SessionTimer(SessionCore core) => _core = core;

    public void Start() => _ = RunAsync();

    public void Stop() => _stop.Cancel();

    private async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                TimeSpan delay;
                lock (_core.Gate)
                {
                    delay = _core.Connection.NextDeadline is { } deadline ? deadline - Clock.Now : MaxSleep;
                }

                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay < MaxSleep ? delay : MaxSleep, _stop.Token).ConfigureAwait(false);
                }

                lock (_core.Gate)
                {
                    if (_core.IsEnding)
                    {
                        return;
                    }

                    _core.Connection.HandleTimeout(Clock.Now);
                    _core.TakeEvents();
                    _core.OnTick();
                }

                _core.Output.Kick();
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _core.PartEnded();
        }
    }
}
