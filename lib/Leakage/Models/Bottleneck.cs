using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// The residual block of ResNet-50/101/152 as in MadryLab's <c>robustness/cifar_models/resnet.py</c>
/// (and torchvision's "v1.5"): 1x1 conv-BN to <c>planes</c> channels, 3x3 conv-BN with the stride,
/// 1x1 conv-BN to <c>4 planes</c>, plus an identity shortcut, or a 1x1 conv-BN one when the stride
/// or the channel count changes (keys <c>shortcut.0</c>, <c>shortcut.1</c>).
/// </summary>
public sealed class Bottleneck : Module<Tensor, Tensor>
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    readonly Conv2d conv1, conv2, conv3;
    readonly BatchNorm2d bn1, bn2, bn3;
    readonly Module<Tensor, Tensor> shortcut;

    /// <summary>A block from <paramref name="inChannels"/> to 4 x <paramref name="planes"/> channels, downsampling by <paramref name="stride"/>.</summary>
    public Bottleneck(int inChannels, int planes, int stride) : base(nameof(Bottleneck))
    {
        int outChannels = Expansion * planes;
        conv1 = Conv2d(inChannels, planes, 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        conv3 = Conv2d(planes, outChannels, 1, bias: false);
        bn3 = BatchNorm2d(outChannels);
        shortcut = stride != 1 || inChannels != outChannels
            ? Sequential(Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), BatchNorm2d(outChannels))
            : Identity();
        RegisterComponents();
    }

    /// <summary>x: N x in x H x W; returns N x 4 planes x H/stride x W/stride.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = functional.relu(bn1.forward(conv1.forward(x)));
        h = functional.relu(bn2.forward(conv2.forward(h)));
        h = bn3.forward(conv3.forward(h));
        return functional.relu(h + shortcut.forward(x)).MoveToOuterDisposeScope();
    }
}
