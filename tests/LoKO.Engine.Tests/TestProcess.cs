using System.Runtime.CompilerServices;
using LoKO.Engine.Platform;

namespace LoKO.Engine.Tests;

/// <summary>The tests' process starts as the server and loko-bench do: MKL's kernels are fixed by its first product.</summary>
static class TestProcess
{
    [ModuleInitializer]
    internal static void Start() => MklVendorCheck.Apply();
}
