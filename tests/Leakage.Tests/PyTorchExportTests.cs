using System.Diagnostics;
using Leakage.Benchmarks;
using Leakage.Export;
using Leakage.IO;
using Leakage.Models;
using Leakage.Released;
using Leakage.Robust;
using Leakage.Tests.Support;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>The pieces of the export: PyTorch files we write, the Python twins of the models, and C's renamed files.</summary>
public class PyTorchExportTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void A_list_of_tensors_written_like_torch_save_reads_back_with_our_torch_save_reader()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var gen = new Generator(3, CPU);
        var images = rand([5, 3, 4, 4], generator: gen);
        Tensor[] written = [images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2), // channels-last strides
            arange(7, ScalarType.Int64), tensor(new[] { true, false, true }), images.narrow(0, 2, 2)];
        TorchListFile.Write(dir["list.pt"], written);

        var read = TorchSaveFile.ReadTensors(dir["list.pt"]);
        Assert.Equal(TorchSaveFormat.Zip, TorchSaveFile.DetectFormat(dir["list.pt"]));
        Assert.Equal(written.Length, read.Length);
        for (int i = 0; i < read.Length; i++)
        {
            Assert.Equal(written[i].dtype, read[i].dtype);
            Assert.Equal(written[i].shape, read[i].shape);
            Assert.True(read[i].equal(written[i]).all().item<bool>(), $"tensor {i} differs");
            read[i].Dispose();
        }
    }

    [Fact]
    public void A_robust_linear_folder_with_the_old_file_names_is_retrained_with_the_reason()
    {
        using var dir = new TempDir();
        var folder = dir["linear"];
        using (var c = LinearClassifier.FromWeights(ones(10, 12), zeros(10))) c.Save(folder, new { run = 1 });
        foreach (var (now, old) in new[] { ("weight.ts.bin", "weight.pt"), ("bias.ts.bin", "bias.pt") })
            File.Move(Path.Combine(folder, now), Path.Combine(folder, old));
        Artifacts.Commit(folder, LinearClassifier.ArtifactKind, new { run = 1 }, ["weight.pt", "bias.pt"]);

        Assert.Null(LinearClassifier.TryLoad(folder, new { run = 1 }, out var reason));
        Assert.Contains("weight.ts.bin", reason);
    }

    [SkippableTheory]
    [InlineData(ModelFactory.SmallCnnArch, 8)]
    [InlineData(ModelFactory.ResNet18Arch, 4)]
    [InlineData(ModelFactory.AirbenchArch, 8)]
    [InlineData(ModelFactory.ResNet9Arch, 8)]
    public void The_python_twin_loads_the_saved_state_dict_strictly_and_gives_the_same_logits_within_1e_4(string arch, int width)
    {
        var python = PyTorchReference.FindPython(null, out var tried);
        Skip.If(python is null, $"No Python with torch (apt-get install python3-torch); tried: {string.Join("; ", tried)}");
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var gen = new Generator(11, CPU);
        using var model = ModelFactory.Create(arch, seed: 5, width: width);
        // Non-trivial batch-norm statistics and affine parameters, so every buffer matters.
        using (no_grad())
        {
            for (int i = 0; i < 3; i++) model.forward(rand([16, 3, 32, 32], generator: gen));
            foreach (var (name, param) in model.named_parameters())
                if (name.Contains("bn") || name.Contains("norm")) param.add_(randn(param.shape, generator: gen).mul(0.1));
        }
        model.eval();
        var images = rand([100, 3, 32, 32], generator: gen).mul(1.2).sub(0.1); // a few pixels outside [0, 1]: the model clamps
        Tensor expected;
        using (no_grad()) expected = model.forward(images);
        model.save_py(dir["state.pt"]);
        TorchListFile.Write(dir["images.pt"], [images]);

        var script = Path.Combine(Repo.Root, "tools", "python", "leakage_models.py");
        var psi = new ProcessStartInfo(python!) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { script, arch, width.ToString(), dir["state.pt"], dir["images.pt"], dir["logits.pt"] }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{script} failed: {stderr}");

        var actual = TorchSaveFile.ReadTensors(dir["logits.pt"]);
        Assert.Single(actual);
        Assert.Equal(expected.shape, actual[0].shape);
        var diff = (actual[0] - expected).abs().max().item<float>();
        output.WriteLine($"{arch} width {width}: max |logit difference| PyTorch vs TorchSharp = {diff:E2} over {expected.numel()} logits");
        Assert.True(diff < 1e-4, $"{arch}: PyTorch and TorchSharp logits differ by up to {diff}");
        actual[0].Dispose();
    }
}
