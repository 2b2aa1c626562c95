using Leakage.Attacks;
using Leakage.Compute;
using Leakage.Data;
using Leakage.Experiment;
using Leakage.Models;
using Leakage.Tests.Support;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary><c>compute.precision</c>: its validation, what auto resolves to, and that a bf16 attack finds what a float32 one finds.</summary>
public sealed class PrecisionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Compute_precision_defaults_to_fp32_and_accepts_only_its_choices()
    {
        var quick = Profiles.Get("quick");
        Assert.Equal("fp32", quick.Compute.Precision);
        Assert.Equal("bf16", SettingsOverrides.Apply(quick, ["compute.precision=bf16"]).Compute.Precision);
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(quick, ["compute.precision=fp16"]));
        Assert.Contains("compute.precision", e.Message);
        Assert.Contains("auto, fp32, bf16", e.Message);
    }

    [Theory]
    [InlineData(Precision.Auto, DeviceType.CPU, true, ScalarType.BFloat16)]
    [InlineData(Precision.Auto, DeviceType.CPU, false, ScalarType.Float32)]
    [InlineData(Precision.Auto, DeviceType.CUDA, true, ScalarType.Float32)]
    [InlineData(Precision.Fp32, DeviceType.CPU, true, ScalarType.Float32)]
    [InlineData(Precision.Bf16, DeviceType.CPU, false, ScalarType.BFloat16)]
    public void Auto_attacks_in_bf16_only_on_a_cpu_that_has_it(Precision precision, DeviceType device, bool cpuHasBf16, ScalarType expected)
    {
        Assert.Equal(expected, Precisions.ForAttack(precision, device, cpuHasBf16));
    }

    [Fact]
    public void The_bf16_attack_copy_takes_and_returns_float32_and_passes_gradients_to_the_input()
    {
        using var model = ModelFactory.Create(ModelFactory.SmallCnnArch, seed: 1, width: 8);
        model.eval();
        using var copy = Precisions.AttackModel(model, "bf16", CPU)!;
        Assert.NotNull(copy);
        Assert.Null(Precisions.AttackModel(model, "fp32", CPU));
        using var scope = NewDisposeScope();
        var x = rand(4, 3, 32, 32).requires_grad_(true);
        var logits = copy.forward(x);
        Assert.Equal(ScalarType.Float32, logits.dtype);
        using (no_grad())
            Assert.True(logits.sub(model.forward(x)).abs().max().item<float>() < 0.1f, "bf16 logits far from float32 ones");
        logits.sum().backward();
        Assert.True(x.grad is { } g && g.abs().sum().item<float>() > 0);

        // The same view over a network the caller put in bfloat16 (tools/fold-bench's): the attack copy's logits exactly.
        using var own = ModelFactory.Create(ModelFactory.SmallCnnArch, seed: 1, width: 8);
        own.eval();
        own.to(ScalarType.BFloat16);
        using var view = Precisions.Bfloat16View(own);
        using (no_grad())
        {
            var viewed = view.forward(x);
            Assert.Equal(ScalarType.Float32, viewed.dtype);
            Assert.Equal(0f, viewed.sub(copy.forward(x)).abs().max().item<float>());
        }
    }

    [SkippableFact]
    public void On_the_quick_profile_a_bf16_attack_and_bf16_evaluation_agree_with_float32_within_one_point()
    {
        var shared = Repo.SharedCifarJpg();
        Skip.If(shared is null, "../shared/data/cifar10-jpg is not present on this machine");
        Skip.IfNot(Precisions.CpuHasBf16, "this CPU has neither AVX512_BF16 nor AMX-BF16 (bf16 would be emulated)");
        var profile = Profiles.Get("quick");
        using var data = CifarLoader.Load(shared!);
        using var scope = NewDisposeScope();
        using var g = new Generator(7, CPU);
        var train = randperm(data.Train.Count, generator: g).narrow(0, 0, profile.Data.TrainCount);
        var test = randperm(data.Test.Count, generator: g).narrow(0, 0, profile.Data.TestCount);
        var (xTrain, yTrain) = (data.Train.Images.index_select(0, train), data.Train.Labels.index_select(0, train));
        var (xTest, yTest) = (data.Test.Images.index_select(0, test), data.Test.Labels.index_select(0, test));

        using var model = ModelFactory.Create(profile.Standard.Arch, profile.Seed, profile.Standard.Width);
        Trainer.Train(model, xTrain, yTrain, ExperimentRun.StandardTraining(profile), CPU, log: _ => { });
        model.eval();
        using var bf16 = Precisions.AttackModel(model, "bf16", CPU)!;

        double Accuracy(nn.Module<Tensor, Tensor> m)
        {
            using var _ = no_grad();
            return m.forward(xTest).argmax(1).eq(yTest).to(ScalarType.Float32).mean().item<float>();
        }
        double a32 = Accuracy(model), a16 = Accuracy(bf16);
        Assert.True(a32 > 0.3, $"the quick model did not learn (accuracy {a32:P1})");
        Assert.True(Math.Abs(a32 - a16) <= 0.01, $"accuracy float32 {a32:P2}, bf16 {a16:P2}");

        var attack = ExperimentRun.AttackOptions(profile).Attack;
        var targets = yTest.add(1).remainder(10);
        double Success(nn.Module<Tensor, Tensor> m)
        {
            using var r = L2Pgd.Attack(m, xTest, targets, attack, CPU, profile.Attack.BatchSize);
            return r.Success.to(ScalarType.Float32).mean().item<float>();
        }
        double s32 = Success(model), s16 = Success(bf16);
        output.WriteLine($"quick profile, {profile.Data.TestCount} test images: accuracy float32 {a32:P2}, bf16 {a16:P2}; targeted PGD success float32 {s32:P2}, bf16 {s16:P2}");
        Assert.True(Math.Abs(s32 - s16) <= 0.01, $"targeted PGD success float32 {s32:P2}, bf16 {s16:P2}");
    }
}
