using Leakage.Attacks;
using Leakage.Models;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>A small CNN trained on toy data, shared by the attack tests (training takes about a second).</summary>
public sealed class ToyModelFixture : IDisposable
{
    public ToyModelFixture()
    {
        (Images, Labels) = ToyCifar.Make(200, seed: 21);
        Model = ModelFactory.Create("small-cnn", seed: 3, width: 8);
        Trainer.Train(Model, Images, Labels, new TrainingOptions { Epochs = 4, BatchSize = 25, LearningRate = 0.05, Seed = 1 }, CPU);
        (TestImages, TestLabels) = ToyCifar.Make(40, seed: 22);
    }

    public nn.Module<Tensor, Tensor> Model { get; }
    public Tensor Images { get; }
    public Tensor Labels { get; }
    public Tensor TestImages { get; }
    public Tensor TestLabels { get; }

    public void Dispose()
    {
        Model.Dispose();
        Images.Dispose();
        Labels.Dispose();
        TestImages.Dispose();
        TestLabels.Dispose();
    }
}

public sealed class AttacksTests(ToyModelFixture toy) : IClassFixture<ToyModelFixture>
{
    static Tensor L2(Tensor a, Tensor b) => (a - b).flatten(1).norm(1);

    static Tensor Probability(nn.Module<Tensor, Tensor> model, Tensor x, Tensor labels)
    {
        using var noGrad = no_grad();
        model.eval();
        return nn.functional.softmax(model.forward(x), 1).gather(1, labels.unsqueeze(1)).squeeze(1);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Pgd_stays_inside_the_eps_ball_and_the_pixel_range(bool targeted, bool randomStart)
    {
        using var scope = NewDisposeScope();
        var x = toy.TestImages;
        var labels = targeted ? (toy.TestLabels + 3).remainder(10) : toy.TestLabels;
        var options = new L2PgdOptions { Eps = 0.5, StepSize = 0.3, Steps = 8, Targeted = targeted, RandomStart = randomStart };
        using var result = L2Pgd.Attack(toy.Model, x, labels, options, CPU, batchSize: 16, seed: 4);

        Assert.Equal(x.shape, result.Adversarial.shape);
        Assert.True(L2(result.Adversarial, x).max().item<float>() <= 0.5 + 1e-5);
        Assert.True(result.Adversarial.min().item<float>() >= 0f);
        Assert.True(result.Adversarial.max().item<float>() <= 1f);
        Assert.True(L2(result.Adversarial, x).max().item<float>() > 0.25, "the attack did not move");
    }

    [Fact]
    public void Targeted_pgd_raises_the_target_probability()
    {
        using var scope = NewDisposeScope();
        var x = toy.TestImages;
        var targets = (toy.TestLabels + 1).remainder(10);
        var options = new L2PgdOptions { Eps = 4.0, StepSize = 0.5, Steps = 20, Targeted = true };
        using var result = L2Pgd.Attack(toy.Model, x, targets, options, CPU);

        var before = Probability(toy.Model, x, targets);
        var after = Probability(toy.Model, result.Adversarial, targets);
        Assert.True((after >= before - 1e-6).all().item<bool>(), "keep-best returned a worse point than the start");
        Assert.True(after.mean().item<float>() > before.mean().item<float>() + 0.3,
            $"mean target probability {before.mean().item<float>():F3} -> {after.mean().item<float>():F3}");
        Assert.True(result.SuccessRate > 0.3, $"success rate {result.SuccessRate:P0}");
    }

    [Fact]
    public void Untargeted_pgd_lowers_the_true_class_probability()
    {
        using var scope = NewDisposeScope();
        var x = toy.TestImages;
        var options = new L2PgdOptions { Eps = 2.0, StepSize = 0.25, Steps = 20 };
        using var result = L2Pgd.Attack(toy.Model, x, toy.TestLabels, options, CPU);

        var before = Probability(toy.Model, x, toy.TestLabels);
        var after = Probability(toy.Model, result.Adversarial, toy.TestLabels);
        Assert.True((after <= before + 1e-6).all().item<bool>());
        Assert.True(after.mean().item<float>() < before.mean().item<float>() - 0.3,
            $"mean true-class probability {before.mean().item<float>():F3} -> {after.mean().item<float>():F3}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Keep_best_never_returns_a_worse_objective_than_the_last_iterate(bool targeted)
    {
        using var scope = NewDisposeScope();
        var x = toy.TestImages;
        var labels = targeted ? (toy.TestLabels + 5).remainder(10) : toy.TestLabels;
        // Large steps make the iterates overshoot, so the last one is often not the best.
        var options = new L2PgdOptions { Eps = 3.0, StepSize = 2.0, Steps = 7, Targeted = targeted };
        using var last = L2Pgd.Attack(toy.Model, x, labels, options with { KeepBest = false }, CPU);
        using var best = L2Pgd.Attack(toy.Model, x, labels, options with { KeepBest = true }, CPU);

        var gap = targeted ? best.Loss - last.Loss : last.Loss - best.Loss;
        Assert.True(gap.max().item<float>() <= 1e-5, $"keep-best worse by {gap.max().item<float>()}");
        Assert.True(gap.min().item<float>() < -1e-3, "keep-best never differed from the last iterate: the test does not exercise it");

        using var noGrad = no_grad();
        var recomputed = nn.functional.cross_entropy(toy.Model.forward(best.Adversarial), labels, reduction: nn.Reduction.None);
        Assert.True(recomputed.allclose(best.Loss, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Without_clamping_one_step_moves_exactly_the_step_size_and_many_steps_end_on_the_sphere()
    {
        using var scope = NewDisposeScope();
        var x = toy.TestImages;
        var unclamped = new L2PgdOptions { ClampMin = null, ClampMax = null, KeepBest = false, Eps = 1.0 };
        using var one = L2Pgd.Attack(toy.Model, x, toy.TestLabels, unclamped with { StepSize = 0.3, Steps = 1 }, CPU);
        using var many = L2Pgd.Attack(toy.Model, x, toy.TestLabels, unclamped with { StepSize = 0.4, Steps = 6 }, CPU);

        var d1 = L2(one.Adversarial, x);
        Assert.True((d1 - 0.3).abs().max().item<float>() < 1e-4, $"one step moved {d1.min().item<float>()}..{d1.max().item<float>()}");
        var dn = L2(many.Adversarial, x);
        Assert.True((dn - 1.0).abs().max().item<float>() < 1e-4, $"six steps ended at {dn.min().item<float>()}..{dn.max().item<float>()}");
        Assert.True(many.Adversarial.max().item<float>() > 1f || many.Adversarial.min().item<float>() < 0f, "the unclamped attack never left [0, 1]");
    }

    [Fact]
    public void The_attack_leaves_no_parameter_gradients_and_restores_the_model()
    {
        using var scope = NewDisposeScope();
        foreach (var p in toy.Model.parameters()) p.grad?.zero_();
        toy.Model.train();
        using var result = L2Pgd.Attack(toy.Model, toy.TestImages.narrow(0, 0, 8), toy.TestLabels.narrow(0, 0, 8),
            new L2PgdOptions { Steps = 3 }, CPU);
        Assert.True(toy.Model.training);
        Assert.All(toy.Model.parameters(), p =>
        {
            Assert.True(p.requires_grad);
            Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0f);
        });
        toy.Model.eval();
    }

    [Fact]
    public void Success_flags_agree_with_the_models_predictions()
    {
        using var scope = NewDisposeScope();
        var targets = (toy.TestLabels + 2).remainder(10);
        using var targeted = L2Pgd.Attack(toy.Model, toy.TestImages, targets, new L2PgdOptions { Steps = 5, Targeted = true, Eps = 1.0, StepSize = 0.3 }, CPU);
        using var untargeted = L2Pgd.Attack(toy.Model, toy.TestImages, toy.TestLabels, new L2PgdOptions { Steps = 5, Eps = 1.0, StepSize = 0.3 }, CPU);

        var p1 = Evaluation.Predict(toy.Model, targeted.Adversarial, CPU);
        var p2 = Evaluation.Predict(toy.Model, untargeted.Adversarial, CPU);
        Assert.True(targeted.Success.eq(p1.eq(targets)).all().item<bool>());
        Assert.True(untargeted.Success.eq(p2.ne(toy.TestLabels)).all().item<bool>());
        Assert.Equal(targeted.Success.sum().item<long>() / 40.0, targeted.SuccessRate, 12);
    }

    [Fact]
    public void Results_do_not_depend_on_the_batch_split()
    {
        using var scope = NewDisposeScope();
        var options = new L2PgdOptions { Steps = 4, Targeted = true };
        var targets = (toy.TestLabels + 7).remainder(10);
        using var a = L2Pgd.Attack(toy.Model, toy.TestImages, targets, options, CPU, batchSize: 40);
        using var b = L2Pgd.Attack(toy.Model, toy.TestImages, targets, options, CPU, batchSize: 7);
        Assert.True(a.Adversarial.allclose(b.Adversarial, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Invalid_attack_settings_are_rejected_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentException>(() => new L2PgdOptions { Eps = -1 }.Validate());
        Assert.Contains("Eps", e.Message);
        e = Assert.Throws<ArgumentException>(() => new L2PgdOptions { ClampMin = 1, ClampMax = 0 }.Validate());
        Assert.Contains("ClampMin", e.Message);
    }

    [Fact]
    public void Classifier_pgd_and_linear_pgd_run_one_loop_and_find_the_same_points()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(7, CPU);
        var w = randn([10, 48], generator: g) * 0.5;
        var b = randn([10], generator: g) * 0.1;
        var fc = nn.Linear(48, 10);
        using (no_grad())
        {
            fc.weight!.copy_(w);
            fc.bias!.copy_(b);
        }
        using var model = nn.Sequential(nn.Flatten(), fc);
        var x = rand([8, 3, 4, 4], generator: g);
        var y = randint(0, 10, [8], generator: g);

        // Autograd through a classifier, and the linear model's closed-form gradient, in the same pixel ball.
        var (viaAutograd, _, _) = L2Pgd.Perturb(model, x, y, new L2PgdOptions { Eps = 0.5, StepSize = 0.1, Steps = 10 });
        var viaClosedForm = Robust.LinearPgd.Attack(w, b, x, y, Attacks.RadiusGeometry.Pixel(48), new Robust.LinearPgdOptions(0.5, Steps: 10, StepSize: 0.1));

        Assert.True((viaAutograd - x).flatten(1).norm(1).min().item<float>() > 0.05f, "the attack moved every point");
        Assert.True((viaAutograd - viaClosedForm).abs().max().item<float>() < 1e-4f, "the two attacks disagree");
    }

    [Fact]
    public void A_step_schedule_falls_from_the_first_length_to_the_last_and_a_flat_one_changes_nothing()
    {
        var options = new L2PgdOptions { Eps = 0.5, StepSize = 0.2, FinalStepSize = 0.02, Steps = 5 };
        Assert.Equal(0.2, options.StepSizeAt(0), 12);
        Assert.Equal(0.02, options.StepSizeAt(4), 12);
        Assert.True(options.StepSizeAt(1) < 0.2 && options.StepSizeAt(3) > 0.02 && options.StepSizeAt(2) < options.StepSizeAt(1), "the schedule falls monotonically");
        Assert.Throws<ArgumentException>(() => (options with { FinalStepSize = -1 }).Validate());

        // The L2 step takes the scheduled length along the normalised gradient.
        using var scope = NewDisposeScope();
        using var g = new Generator(5, CPU);
        var origin = rand([2, 3, 4, 4], generator: g);
        var step = new L2Step(origin, Attacks.RadiusGeometry.Pixel(48), 10.0, options.StepSize, null, null, schedule: options.StepSizeAt);
        var grad = randn([2, 3, 4, 4], generator: g);
        for (int t = 0; t < options.Steps; t++)
        {
            var moved = (step.Step(origin, grad, t) - origin).flatten(1).norm(1);
            Assert.True(moved.allclose(full([2], options.StepSizeAt(t)), rtol: 1e-4, atol: 1e-6), $"step {t} moved {moved[0].item<float>()}");
        }

        // A schedule from a length to the same length is the constant step, point for point.
        var fc = nn.Linear(48, 10);
        using var model = nn.Sequential(nn.Flatten(), fc);
        var x = rand([6, 3, 4, 4], generator: g);
        var y = randint(0, 10, [6], generator: g);
        var constant = new L2PgdOptions { Eps = 0.5, StepSize = 0.1, Steps = 6, Targeted = true };
        var (a, _, _) = L2Pgd.Perturb(model, x, y, constant);
        var (b, _, _) = L2Pgd.Perturb(model, x, y, constant with { FinalStepSize = 0.1 });
        Assert.True(a.allclose(b, rtol: 0, atol: 1e-6));
    }
}
