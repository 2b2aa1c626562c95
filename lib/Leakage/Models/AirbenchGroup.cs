using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>
/// One block of <see cref="AirbenchNet"/>: conv 3x3 - max-pool 2 - batch norm - GELU - conv 3x3 -
/// batch norm - GELU (Keller Jordan's airbench ConvGroup). The batch norms keep their scale at 1
/// (not trained; only the shift is) with eps 1e-12 and running-statistics momentum 0.4.
/// </summary>
public sealed class AirbenchGroup : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d norm1, norm2;

    // A folded copy's convolutions (AirbenchNet.FoldedCopy): the scale is positive (frozen at 1 over
    // sqrt(var + eps)), so the norm after the max-pool folds into the convolution before it too.
    internal Tensor? FoldedWeight1, FoldedBias1, FoldedWeight2, FoldedBias2;

    public AirbenchGroup(int channelsIn, int channelsOut) : base(nameof(AirbenchGroup))
    {
        conv1 = Conv2d(channelsIn, channelsOut, 3, padding: 1, bias: false);
        norm1 = Norm(channelsOut);
        conv2 = Conv2d(channelsOut, channelsOut, 3, padding: 1, bias: false);
        norm2 = Norm(channelsOut);
        RegisterComponents();
    }

    static BatchNorm2d Norm(int channels)
    {
        var bn = BatchNorm2d(channels, eps: 1e-12, momentum: 0.4);
        bn.weight!.requires_grad = false;
        return bn;
    }

    internal IEnumerable<(Conv2d Conv, BatchNorm2d Norm)> Pairs => [(conv1, norm1), (conv2, norm2)];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor h;
        if (FoldedWeight1 is { } w1)
        {
            h = functional.gelu(functional.max_pool2d(BatchNormFold.Apply(x, w1, FoldedBias1!, 1, 1), 2));
            h = functional.gelu(BatchNormFold.Apply(h, FoldedWeight2!, FoldedBias2!, 1, 1));
        }
        else
        {
            h = functional.gelu(norm1.forward(functional.max_pool2d(conv1.forward(x), 2)));
            h = functional.gelu(norm2.forward(conv2.forward(h)));
        }
        return h.MoveToOuterDisposeScope();
    }
}
