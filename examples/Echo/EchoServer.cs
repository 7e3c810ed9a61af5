using System.Net;
using System.Net.Sockets;
using TcpChan.Core;

namespace TcpChan.Examples.Echo;

/// <summary>
/// Echoes every channel's data back on the same channel, for any number of clients at
/// once: one <see cref="ServerConnection"/> and one <see cref="SocketDriver"/> per client.
/// Speaks version 1 with clients that offer it, version 0 with the others.
/// </summary>
public sealed class EchoServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly TextWriter _log;

    /// <summary>
    /// Starts listening (port 0 picks a free port; see <see cref="Port"/>). The server accepts
    /// protocol versions up to <paramref name="maxVersion"/>: with 1 (the default) it speaks
    /// version 1 with clients that offer it and version 0 with the others; with 0 it behaves
    /// like the Python reference.
    /// </summary>
    public EchoServer(IPAddress address, int port, TextWriter? log = null, byte maxVersion = ConnectionOptions.LatestVersion)
    {
        if (maxVersion > ConnectionOptions.LatestVersion)
        {
            throw new ArgumentOutOfRangeException(nameof(maxVersion), maxVersion, $"Versions 0 to {ConnectionOptions.LatestVersion} exist.");
        }

        _listener = new TcpListener(address, port);
        _listener.Start();
        _log = log ?? TextWriter.Null;
        MaxVersion = maxVersion;
    }

    /// <summary>The port the server listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The newest protocol version the server accepts.</summary>
    public byte MaxVersion { get; }

    /// <summary>Accepts and serves clients until <paramref name="cancellationToken"/> fires, then waits for them to end.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clients = new List<Task>();
        try
        {
            while (true)
            {
                var tcp = await _listener.AcceptTcpClientAsync(cancellationToken);
                clients.RemoveAll(t => t.IsCompleted);
                clients.Add(ServeAsync(tcp, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _listener.Stop();
            await Task.WhenAll(clients);
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Stop();

    private async Task ServeAsync(TcpClient tcp, CancellationToken cancellationToken)
    {
        string peer = tcp.Client.RemoteEndPoint?.ToString() ?? "?";
        try
        {
            using (tcp)
            {
                tcp.NoDelay = true;
                SocketDriver? driver = null;

                // Runs a channel's Release as a separate call into the connection, once the
                // current DataReceived is over (the work item waits for the driver's lock).
                void ReleaseLater(EchoChannel channel) => ThreadPool.QueueUserWorkItem(_ =>
                {
                    try
                    {
                        driver?.InvokeAsync(_ => channel.Release());
                    }
                    catch (Exception ex)
                    {
                        // An exception must not escape a thread-pool work item: that ends the process.
                        Log($"{peer}: channel {channel.ChannelId}: release failed: {ex.Message}");
                    }
                });

                var connection = new ServerConnection(() => new EchoChannel(ReleaseLater), new ConnectionOptions { MaxVersion = MaxVersion });
                driver = new SocketDriver(tcp, connection, e =>
                {
                    switch (e)
                    {
                        case HandshakeSuccess success:
                            Log($"{peer}: protocol version {success.Version}");
                            break;
                        case ChannelClosed { Exception: { } ex } closed:
                            // A callback of this channel threw: the channel was reset, the others go on.
                            Log($"{peer}: channel {closed.ChannelId} failed: {ex.GetType().Name}: {ex.Message}");
                            break;
                        case GoAwayReceived goAway:
                            // The client is done: it opens no more channels (code NoError) or gives up.
                            Log($"{peer}: going away ({goAway.Code})");
                            break;
                    }
                });
                Log($"{peer}: connected");
                await driver.RunAsync(cancellationToken);
                Log($"{peer}: {driver.EndReason}");
            }
        }
        catch (Exception ex)
        {
            // One client's trouble must not stop the server.
            Log($"{peer}: failed: {ex}");
        }
    }

    private void Log(string line)
    {
        lock (_log)
        {
            _log.WriteLine(line);
        }
    }

    /// <summary>
    /// Sends back what it receives, and (version 1) ends its side when the client ends its
    /// own, which completes the channel.
    /// </summary>
    /// <remarks>
    /// Version 1: the channel does not consume automatically. It consumes (gives the client
    /// credit back for) only what its echo has actually sent, so a client that writes faster
    /// than it reads runs out of credit, instead of filling this server's send queue.
    /// </remarks>
    private sealed class EchoChannel(Action<EchoChannel> releaseLater) : Channel(autoConsume: false)
    {
        // Received and not yet consumed. Of these, the newest QueuedBytes are echo still waiting
        // for credit to go back; the others have been sent.
        private long _held;
        private bool _releasePending;

        // These run inside the connection's calls, under the driver's lock: Write only queues
        // frames, which the driver sends after the events are drained.
        protected override void DataReceived(ReadOnlySpan<byte> data)
        {
            Write(data);
            if (Connection.Version == 0)
            {
                return; // no flow control: nothing to consume
            }

            _held += data.Length;

            // The core counts these bytes as received only once DataReceived has returned
            // (Consume here would throw), so release them in a call of its own.
            if (!_releasePending)
            {
                _releasePending = true;
                releaseLater(this);
            }
        }

        // Version 1: the echo queue drained: what was held can be consumed.
        protected override void OnWritable() => Release();

        // Version 1: the client sends no more, so there is no credit to hold back: consume it
        // all, and end our side once the echo is out (then the channel completes).
        protected override void OnEndOfData()
        {
            ConsumeHeld(_held);
            CompleteWrites();
        }

        /// <summary>Consumes what has been received and echoed (not still queued).</summary>
        public void Release()
        {
            _releasePending = false;
            ConsumeHeld(_held - QueuedBytes);
        }

        private void ConsumeHeld(long count)
        {
            if (count > 0 && !IsClosed)
            {
                Consume((int)count);
                _held -= count;
            }
        }
    }
}
