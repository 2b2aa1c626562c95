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
