using Leakage.Models;
using Leakage.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>Keller Jordan's ResNet-9 (the transfer network of his Ilyas et al. replication): its shape, frozen batch-norm scales, residual paths and that it learns.</summary>
public class ResNet9Tests
{
    [Fact]
    public void It_has_the_replications_layers_and_keeps_every_batch_norm_scale_at_one()
    {
        using var model = ModelFactory.Create(ModelFactory.ResNet9Arch, seed: 1);
        var r = Assert.IsType<ResNet9>(model);
        Assert.Equal(ModelFactory.ResNet9Arch, r.Arch);
        Assert.Equal(ResNet9.DefaultWidth, r.Width);
        Assert.Equal(2 * ResNet9.DefaultWidth, r.FeatureCount);
        // Seven 3x3 and one 5x5 stride-2 convolution, eight batch norms, a head without bias.
        var convs = model.modules().OfType<Conv2d>().ToList();
        Assert.Equal(8, convs.Count);
        Assert.Single(convs, c => c.weight!.shape[2] == 5);
        var norms = model.modules().OfType<BatchNorm2d>().ToList();
        Assert.Equal(8, norms.Count);
        Assert.All(norms, n => Assert.False(n.weight!.requires_grad));
        Assert.Null(model.modules().OfType<Linear>().Single().bias);
        // Trainable: the convolution and head weights and the batch-norm shifts (2,273,536 at width 64).
        long trainable = model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        Assert.Equal(2_273_536, trainable);
    }

    [Fact]
    public void Both_residual_pairs_add_to_their_input()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(ModelFactory.ResNet9Arch, seed: 2, width: 4);
        model.eval();
        using var noGrad = no_grad();
        var x = rand(4, 3, 32, 32);
        var before = model.forward(x);
        // With both pairs' last convolutions zeroed, each pair adds ReLU(BN(0)) = 0 (fresh statistics, shift 0),
        // so only the skip paths carry the images on: the logits change, yet still differ from image to image
        // (without the skips every image would give the same logits).
        foreach (var (name, p) in model.named_parameters().Where(p => p.name is "res1.b.conv.weight" or "res2.b.conv.weight"))
            p.zero_();
        var plain = model.forward(x);
        Assert.Equal(new long[] { 4, 10 }, plain.shape);
        Assert.False(before.allclose(plain));
        Assert.True(plain.std(0).max().item<float>() > 1e-4f, "with the residual branches zeroed the logits no longer depend on the image");
    }

    [Fact]
    public void It_learns_a_toy_task()
    {
        var (x, y) = ToyCifar.Make(320, seed: 1);
        var (tx, ty) = ToyCifar.Make(200, seed: 2);
        using var model = ModelFactory.Create(ModelFactory.ResNet9Arch, seed: 3, width: 8);
        // His recipe at toy scale: Nesterov SGD, momentum 0.9, lr 0.2, weight decay 5e-4, one-cycle.
        var recipe = new TrainingOptions { Epochs = 5, BatchSize = 32, LearningRate = 0.2, Momentum = 0.9, WeightDecay = 5e-4, Augmentation = Augmentation.None, Seed = 1 };
        Trainer.Train(model, x, y, recipe, CPU, log: _ => { });
        double accuracy = Evaluation.Accuracy(model, tx, ty, CPU);
        Assert.True(accuracy > 0.6, $"ResNet-9 reached {accuracy:P1} on held-out toy images (chance 10%)");
    }
}
