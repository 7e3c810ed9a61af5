using System.Net;
using System.Net.Sockets;
using TcpChan.Core.Yamux;

namespace TcpChan.Tests.Interop;

/// <summary>A frame as read off the wire by <see cref="RawYamuxPeer"/>.</summary>
internal sealed record RawYamuxFrame(YamuxFrameHeader Header, byte[] Payload)
{
    public override string ToString() => Header.ToString();
}

/// <summary>
/// A yamux peer of raw frames over a socket, written with this implementation's codec: it
/// sends exactly the frames a test names, well-formed or not, and reads back every frame Go's
/// yamux writes. Used where the Go side must face what a Go peer would never send (a reset,
/// bad input), so that what Go does is observed rather than assumed. No session logic at all.
/// </summary>
internal sealed class RawYamuxPeer : IDisposable
{
    /// <summary>The largest data frame this reader takes; Go's never exceed the window it was given.</summary>
    private const int MaxPayload = 16 << 20;

    private readonly Socket _socket;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawYamuxPeer(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
    }

    /// <summary>True once a read ended in a connection reset rather than a clean end.</summary>
    public bool ClosedByReset { get; private set; }

    public static async Task<RawYamuxPeer> ConnectAsync(IPEndPoint endPoint, TimeSpan timeout)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(timeout);
        await socket.ConnectAsync(endPoint, cts.Token);
        return new RawYamuxPeer(socket);
    }

    public static RawYamuxPeer Over(Socket socket) => new(socket);

    /// <summary>Sends raw bytes; false when the peer has already closed (the send failed).</summary>
    public async Task<bool> SendAsync(byte[] bytes)
    {
        try
        {
            await _socket.SendAsync(bytes, SocketFlags.None);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public Task<bool> SendHeaderAsync(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        var frame = new byte[YamuxProtocol.HeaderLength];
        YamuxFrameWriter.WriteHeader(frame, type, flags, streamId, length);
        return SendAsync(frame);
    }

    public Task<bool> SendWindowUpdateAsync(YamuxFlags flags, uint streamId, uint delta) =>
        SendHeaderAsync(YamuxFrameType.WindowUpdate, flags, streamId, delta);

    public Task<bool> SendDataAsync(YamuxFlags flags, uint streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[YamuxProtocol.HeaderLength + payload.Length];
        YamuxFrameWriter.WriteData(frame, flags, streamId, payload);
        return SendAsync(frame);
    }

    /// <summary>The next whole frame, or null when the peer closed the connection.</summary>
    public async Task<RawYamuxFrame?> ReadFrameAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var status = YamuxFrameHeader.TryRead(_buffer.AsSpan(_start, _end - _start), out var header);
            if (status is YamuxReadStatus.BadVersion or YamuxReadStatus.UnknownType)
            {
                throw new InvalidDataException($"The peer sent a bad header ({status}): {Convert.ToHexString(_buffer, _start, Math.Min(12, _end - _start))}.");
            }

            if (status == YamuxReadStatus.Complete)
            {
                if (header.PayloadLength > MaxPayload)
                {
                    throw new InvalidDataException($"The peer sent {header}: more than this reader takes.");
                }

                int frameLength = (int)header.FrameLength;
                if (_end - _start >= frameLength)
                {
                    var payload = _buffer.AsSpan(_start + YamuxProtocol.HeaderLength, (int)header.PayloadLength).ToArray();
                    _start += frameLength;
                    return new RawYamuxFrame(header, payload);
                }

                Reserve(frameLength);
            }

            if (_end == _buffer.Length)
            {
                Reserve(_buffer.Length);
            }

            int read;
            try
            {
                read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cts.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                ClosedByReset = true;
                read = 0;
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No whole frame from the peer within {timeout}.");
            }

            if (read == 0)
            {
                if (_end > _start && !ClosedByReset)
                {
                    throw new InvalidDataException($"The peer closed in the middle of a frame ({_end - _start} bytes of it).");
                }

                return null;
            }

            _end += read;
        }
    }

    /// <summary>Every frame until the peer closes the connection.</summary>
    public async Task<List<RawYamuxFrame>> ReadUntilClosedAsync(TimeSpan timeout)
    {
        var frames = new List<RawYamuxFrame>();
        var deadline = DateTime.UtcNow + timeout;
        while (await ReadFrameAsync(deadline - DateTime.UtcNow) is { } frame)
        {
            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>Reads frames until one matches, returning those before it and it.</summary>
    public async Task<List<RawYamuxFrame>> ReadUntilAsync(Func<RawYamuxFrame, bool> match, TimeSpan timeout)
    {
        var frames = new List<RawYamuxFrame>();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var frame = await ReadFrameAsync(deadline - DateTime.UtcNow)
                ?? throw new InvalidDataException($"The peer closed before the frame awaited; it sent: {string.Join("; ", frames)}.");
            frames.Add(frame);
            if (match(frame))
            {
                return frames;
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>Room for <paramref name="length"/> bytes from <see cref="_start"/>: compacts, or grows.</summary>
    private void Reserve(int length)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_buffer.Length < length || _end == _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(length, _buffer.Length * 2));
        }
    }
}
