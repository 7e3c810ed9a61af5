using System.Runtime.CompilerServices;

namespace TcpChan.Core;

/// <summary>
/// <c>[MethodImpl(HotPath.Options)]</c> on the methods every frame goes through: compiled fully
/// optimized at the first call instead of going through the JIT's tiers (unoptimized code, then
/// instrumented code, then optimized). A session is busy from its first frames, and in
/// short-lived processes (a forwarder, a test, a benchmark's first seconds) the tiers cost
/// more than their profile gains; long runs measured the same either way.
/// </summary>
internal static class HotPath
{
    // MethodImplOptions.AggressiveOptimization, by value: netstandard2.0 does not name it (runtimes that do not know it ignore it).
    public const MethodImplOptions Options = (MethodImplOptions)512;
}
