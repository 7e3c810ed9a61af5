namespace TcpChan.Core;

/// <summary>
/// The owner of bytes written with <see cref="Channel.TryWriteReferenced"/>: the connection's
/// output refers to them instead of copying them, and tells the owner when it no longer does.
/// </summary>
public interface IReferencedWrite
{
    /// <summary>
    /// The <see cref="DataTransmit"/> that carried the bytes was disposed (written, or dropped
    /// with the connection): the memory may be reused. Called from <see cref="DataTransmit.Dispose"/>,
    /// on whatever thread disposes it (possibly under the driver's lock): only signal here.
    /// </summary>
    void Released();
}
