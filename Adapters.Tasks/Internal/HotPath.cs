using System.Runtime.CompilerServices;

namespace TcpChan.Internal;

/// <summary>
/// <c>[MethodImpl(HotPath.Options)]</c> on the adapters' methods that every frame, read, write or
/// channel goes through: compiled fully optimized at the first call instead of through the JIT's
/// tiers. The runtime holds tier-up back while new methods keep being compiled, and a session's
/// first second (a short-lived process, a burst of new channels) otherwise runs mostly
/// unoptimized code: opening 20,000 channels went from about 31,000 to 38,000 a second with
/// this, and long runs measured the same or better (docs/BENCHMARKS.md).
/// </summary>
internal static class HotPath
{
    public const MethodImplOptions Options = MethodImplOptions.AggressiveOptimization;
}
