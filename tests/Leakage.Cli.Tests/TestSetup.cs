using System.Runtime.CompilerServices;
using Leakage.Native;

namespace Leakage.Cli.Tests;

static class TestSetup
{
    /// <summary>Runs when the test assembly loads: a few tests inspect artifacts with TorchSharp in this process.</summary>
    [ModuleInitializer]
    internal static void Init()
    {
        TorchNative.Ensure();
        TorchSharp.torch.set_num_threads(1);
    }
}
