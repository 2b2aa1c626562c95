using System.Runtime.InteropServices;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class TorchNativeTests
{
    [Fact]
    public void Torch_runs_a_forward_and_backward_pass()
    {
        using var scope = NewDisposeScope();
        var lin = nn.Linear(4, 3);
        var x = randn(8, 4);
        var y = tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1 });
        var loss = nn.functional.cross_entropy(lin.forward(x), y);
        loss.backward();
        var g = lin.weight!.grad!;
        Assert.Equal(new long[] { 3, 4 }, g.shape);
        Assert.True(g.abs().sum().item<float>() > 0);
        // d(loss)/d(bias) of mean cross-entropy sums to zero over classes.
        Assert.Equal(0f, lin.bias!.grad!.sum().item<float>(), 5);
    }

    [Fact]
    public void Native_setup_reports_what_it_did()
    {
        TorchNative.Ensure();
        var s = TorchNative.Status;
        if (OperatingSystem.IsLinux() && !TorchNative.SystemLibStdCxxHasVersion())
            Assert.StartsWith("applied", s);
        else
            Assert.StartsWith("not needed", s);
    }
}

public class OpenMpPolicyTests
{
    [DllImport("libc.so.6", EntryPoint = "getenv")] static extern IntPtr GetEnv(string name);

    [SkippableFact]
    public void The_OpenMP_wait_policy_is_in_the_C_environment_libtorch_reads()
    {
        Skip.If(OperatingSystem.IsWindows(), "Windows has one environment; the C/.NET split is a Unix matter.");
        TorchNative.Ensure();
        // Read through libc, as libgomp does when libtorch loads it; .NET's own copy is not enough.
        var native = Marshal.PtrToStringAnsi(GetEnv("OMP_WAIT_POLICY"));
        Assert.False(string.IsNullOrEmpty(native));
        Assert.Equal(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"), native);
        Assert.Equal(native, TorchNative.NativeEnvironment("OMP_WAIT_POLICY"));
    }
}
