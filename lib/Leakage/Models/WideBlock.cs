using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// The pre-activation block of a WideResNet (Zagoruyko and Komodakis 2016) as in the TRADES /
/// RobustBench code: BN-ReLU, 3x3 conv with the stride, BN-ReLU, 3x3 conv, plus the input, or a 1x1
/// <c>convShortcut</c> of the activated input when the channel count changes (no dropout: evaluation only).
/// </summary>
public sealed class WideBlock : Module<Tensor, Tensor>
{
    readonly BatchNorm2d bn1, bn2;
    readonly Conv2d conv1, conv2;
    readonly Conv2d? convShortcut;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/>, downsampling by <paramref name="stride"/>.</summary>
    public WideBlock(int inChannels, int outChannels, int stride) : base(nameof(WideBlock))
    {
        bn1 = BatchNorm2d(inChannels);
        conv1 = Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn2 = BatchNorm2d(outChannels);
        conv2 = Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        convShortcut = inChannels != outChannels ? Conv2d(inChannels, outChannels, 1, stride: stride, bias: false) : null;
        RegisterComponents();
    }

    /// <summary>x: N x in x H x W; returns N x out x H/stride x W/stride.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var a = functional.relu(bn1.forward(x));
        var h = conv2.forward(functional.relu(bn2.forward(conv1.forward(a))));
        return (convShortcut is null ? h + x : h + convShortcut.forward(a)).MoveToOuterDisposeScope();
    }
}
