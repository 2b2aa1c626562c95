using Leakage.Attacks;
using Leakage.Compute;
using Leakage.Models;
using Leakage.Training;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// Tests that need an NVIDIA GPU and a build with -p:TorchBackend=cuda. They carry the trait
/// Category=GPU, which the default (CPU build) test run filters out (tests/default.runsettings); a
/// CUDA build runs them: <c>dotnet test Leakage.Notebooks.sln -c Release -p:TorchBackend=cuda</c>
/// (add <c>--filter Category=GPU</c> for only these).
/// </summary>
[Trait("Category", "GPU")]
public class GpuTests
{
    [SkippableFact]
    public void Training_and_pgd_on_cuda_agree_with_the_cpu()
    {
        Skip.IfNot(Devices.CudaAvailable(), "no CUDA device");
        var (x, y) = ToyCifar.Make(200, seed: 7);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 50, Augmentation = Augmentation.None, Seed = 3 };
        using var cpuModel = ModelFactory.Create("small-cnn", seed: 1, width: 8);
        using var gpuModel = ModelFactory.Create("small-cnn", seed: 1, width: 8, device: CUDA);
        Trainer.Train(cpuModel, x, y, options, CPU, log: _ => { });
        Trainer.Train(gpuModel, x, y, options, CUDA, log: _ => { });
        using var pc = Evaluation.Logits(cpuModel, x, CPU);
        using var pg = Evaluation.Logits(gpuModel, x, CUDA);
        Assert.True(pc.allclose(pg, rtol: 1e-2, atol: 1e-2), "CPU and CUDA training diverge beyond floating-point noise");
        var attack = new L2PgdOptions { Eps = 0.5, StepSize = 0.1, Steps = 5, Targeted = false };
        using var r = L2Pgd.Attack(gpuModel, x, y, attack, CUDA);
        using var norms = (r.Adversarial - x).flatten(1).norm(1, false, 2);
        Assert.True(norms.max().item<float>() <= 0.5f + 1e-4f);
    }
}
