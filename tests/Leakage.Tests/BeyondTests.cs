using Leakage.Attacks;
using Leakage.Models;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class BeyondTests
{
    [Fact]
    public void Penultimate_features_are_what_the_final_layer_maps_to_the_logits()
    {
        foreach (var arch in ModelFactory.Architectures)
        {
            using var scope = NewDisposeScope();
            var model = ModelFactory.Create(arch, seed: 1, width: 4);
            model.eval();
            using var noGrad = no_grad();
            var x = rand(3, 3, 32, 32);
            var f = ((IFeatureModel)model).Features(x);
            Assert.Equal(new long[] { 3, ((IFeatureModel)model).FeatureCount }, f.shape);
            var fc = model.modules().OfType<TorchSharp.Modules.Linear>().Last();
            var logits = fc.forward(f);
            Assert.True(logits.allclose(model.forward(x), rtol: 1e-5, atol: 1e-5));
        }
    }

    [Fact]
    public void Adversarial_training_makes_the_model_harder_to_attack()
    {
        var (x, y) = ToyCifar.Make(600, seed: 3);
        var (tx, ty) = ToyCifar.Make(200, seed: 4);
        var attack = new L2PgdOptions { Eps = 1.5, StepSize = 0.5, Steps = 10 };
        var plain = new TrainingOptions { Epochs = 4, BatchSize = 50, LearningRate = 0.05, Augmentation = Augmentation.None, Seed = 1 };
        var robust = plain with { Adversary = attack with { RandomStart = true, KeepBest = false, Steps = 5, StepSize = 0.75 } };
        double Robustness(TrainingOptions o)
        {
            using var model = ModelFactory.Create("small-cnn", seed: 1, width: 8);
            Trainer.Train(model, x, y, o, CPU, log: _ => { });
            using var r = L2Pgd.Attack(model, tx, ty, attack, CPU, batchSize: 100);
            return Evaluation.Accuracy(model, r.Adversarial, ty, CPU);
        }
        var plainAcc = Robustness(plain);
        var robustAcc = Robustness(robust);
        Assert.True(robustAcc > plainAcc + 0.1, $"PGD accuracy: adversarially trained {robustAcc:P1}, standard {plainAcc:P1}");
    }

    [Fact]
    public void A_targeted_adversary_is_refused_for_adversarial_training()
    {
        var o = new TrainingOptions { Adversary = new L2PgdOptions { Targeted = true } };
        var e = Assert.Throws<ArgumentException>(o.Validate);
        Assert.Contains("Adversary", e.Message);
    }
}
