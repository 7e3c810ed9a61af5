using Xunit;

namespace TcpChan.Tests.Faults;

/// <summary>Tests that measure the process's memory run alone: nothing else allocates meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "Memory measurements";
}
