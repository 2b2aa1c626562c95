using System.Runtime.CompilerServices;
using Leakage.Native;

namespace Leakage.Tests;

static class TestSetup
{
    /// <summary>Runs when the test assembly loads, before any test touches TorchSharp.</summary>
    [ModuleInitializer]
    internal static void Init()
    {
        TorchNative.Ensure();
        // One libtorch thread per test host keeps parallel test hosts from oversubscribing the cores.
        TorchSharp.torch.set_num_threads(1);
    }
}
