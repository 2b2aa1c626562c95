using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Leakage.Models;

/// <summary>One stage of a <see cref="WideResNet"/>: its <see cref="WideBlock"/>s under <c>layer</c> (the TRADES / RobustBench <c>NetworkBlock</c>, keys <c>blockK.layer.i.*</c>).</summary>
public sealed class WideStage : Module<Tensor, Tensor>
{
    readonly Sequential layer;

    /// <summary><paramref name="blocks"/> blocks from <paramref name="inChannels"/> to <paramref name="outChannels"/>, the first with <paramref name="stride"/>.</summary>
    public WideStage(int inChannels, int outChannels, int blocks, int stride) : base(nameof(WideStage))
    {
        layer = Sequential(Enumerable.Range(0, blocks)
            .Select(i => (Module<Tensor, Tensor>)new WideBlock(i == 0 ? inChannels : outChannels, outChannels, i == 0 ? stride : 1)).ToList());
        RegisterComponents();
    }

    /// <summary>x: N x in x H x W; returns N x out x H/stride x W/stride.</summary>
    public override Tensor forward(Tensor x) => layer.forward(x);
}
