using TcpChan.Core;

namespace TcpChan.Bench.EndToEnd;

/// <summary>
/// A client channel of the callback rows that does sequential round trips of <c>size</c> bytes:
/// <see cref="Send"/> writes a request whose first byte is <see cref="Round"/>, and once exactly
/// <c>size</c> bytes have come back (the first of them the round's number) <see cref="RoundTripped"/>
/// runs, inside the receive callback, where the next request can leave.
/// </summary>
internal abstract class RoundTripChannel(int size) : BenchChannel
{
    private readonly byte[] _request = new byte[size];
    private int _got;

    /// <summary>The round whose answer is awaited; its number (mod 256) is the request's first byte.</summary>
    protected int Round { get; set; }

    /// <summary>Writes the request of <see cref="Round"/>.</summary>
    protected void Send()
    {
        _got = 0;
        _request[0] = (byte)Round;
        Write(_request);
    }

    /// <summary>The whole answer of <see cref="Round"/> has come.</summary>
    protected abstract void RoundTripped();

    /// <summary>The answer was wrong; the run fails.</summary>
    protected abstract void Failed(Exception error);

    protected override void DataReceived(ReadOnlySpan<byte> data)
    {
        if (_got == 0 && data[0] != (byte)Round)
        {
            Failed(new InvalidDataException("wrong echo"));
            return;
        }

        _got += data.Length;
        if (_got < size)
        {
            return;
        }

        if (_got > size)
        {
            Failed(new InvalidDataException($"{_got} bytes back for a {size}-byte request"));
            return;
        }

        _got = 0;
        RoundTripped();
    }
}
