using System.Text.Json;
using Leakage.Checkpoints;
using Leakage.IO;
using Leakage.Models;
using Leakage.Released;
using Leakage.Tests.Support;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Leakage.Tests;

/// <summary>
/// Importing PyTorch checkpoints (Fixtures/checkpoints, written by real PyTorch 1.13 with
/// tests/fixtures-src/make_checkpoint_fixtures.py): logits equal PyTorch's on 100 images, and bad
/// files are refused with one line naming the file.
/// </summary>
public class CheckpointImportTests
{
    static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints");

    static string Fixture(params string[] parts) => Path.Combine([Root, .. parts]);

    static JsonElement[] Models() =>
        JsonDocument.Parse(File.ReadAllText(Fixture("expected.json"))).RootElement.GetProperty("models").EnumerateArray().ToArray();

    static Tensor Inputs() => TorchSaveFile.ReadTensors(Fixture("inputs.pt"))[0].to(ScalarType.Float32).div(255);

    static double MaxDifference(nn.Module<Tensor, Tensor> model, Tensor x, Tensor expected)
    {
        using var noGrad = no_grad();
        using var logits = model.forward(x);
        Assert.Equal(expected.shape, logits.shape);
        return logits.sub(expected).abs().max().item<float>();
    }

    [Theory]
    [InlineData("madry_resnet18.pt")]
    [InlineData("madry_resnet50.pt")]
    [InlineData("tv_resnet18.pt")]
    [InlineData("wrn_16_1.pt")]
    public void Logits_of_an_imported_checkpoint_match_pytorch_on_100_images(string file)
    {
        using var scope = NewDisposeScope();
        var models = Models();
        int index = Array.FindIndex(models, m => m.GetProperty("file").GetString() == file);
        var e = models[index];
        var expected = TorchSaveFile.ReadTensors(Fixture("logits.pt"))[index];

        using var imported = CheckpointImport.Load(Fixture(file));

        var info = imported.Info;
        Assert.Equal(e.GetProperty("layout").GetString(), info.Layout);
        Assert.Equal(e.GetProperty("arch").GetString(), info.Arch);
        Assert.Equal(e.GetProperty("width").GetInt32(), info.Width);
        Assert.Equal(e.GetProperty("mean").EnumerateArray().Select(v => v.GetSingle()), info.Mean);
        Assert.Equal(e.GetProperty("std").EnumerateArray().Select(v => v.GetSingle()), info.Std);
        Assert.Equal(info.Layout == "robustness" ? "checkpoint" : "settings", info.Normalization);
        Assert.Equal(Artifacts.Sha256(Fixture(file)), info.Sha256);
        Assert.Equal(100, expected.shape[0]);
        var diff = MaxDifference(imported.Model, Inputs(), expected);
        Assert.True(diff < 1e-4, $"{file}: logits differ from PyTorch's by up to {diff:G3}");
    }

    [Fact]
    public void An_architecture_given_in_the_settings_must_be_the_one_in_the_file()
    {
        var e = Assert.Throws<InvalidDataException>(() => CheckpointImport.Load(Fixture("madry_resnet18.pt"), new CheckpointOptions("resnet50")));
        Assert.StartsWith(Fixture("madry_resnet18.pt") + ":", e.Message);
        Assert.Contains("resnet18", e.Message);
        using var ok = CheckpointImport.Load(Fixture("madry_resnet50.pt"), new CheckpointOptions("resnet50"));
        Assert.Equal("resnet50", ok.Info.Arch);
        using var wide = CheckpointImport.Load(Fixture("wrn_16_1.pt"), new CheckpointOptions(CheckpointImport.WideArch));
        Assert.IsType<WideResNet>(wide.Model);
        Assert.Throws<InvalidDataException>(() => CheckpointImport.Load(Fixture("wrn_16_1.pt"), new CheckpointOptions("resnet18")));
    }

    [Fact]
    public void A_state_dict_without_normalisation_takes_it_from_the_settings()
    {
        using var scope = NewDisposeScope();
        float[] mean = [0.5f, 0.5f, 0.5f], std = [0.25f, 0.25f, 0.25f];
        using var plain = CheckpointImport.Load(Fixture("tv_resnet18.pt"));
        using var custom = CheckpointImport.Load(Fixture("tv_resnet18.pt"), new CheckpointOptions(Mean: mean, Std: std));
        Assert.Equal(mean, custom.Info.Mean);
        Assert.Equal(std, custom.Info.Std);
        Assert.NotEqual(plain.Info.Identity().ToJsonString(), custom.Info.Identity().ToJsonString());
        // The same net behind other constants: custom on x equals plain on the pixels that normalise, under
        // the CIFAR constants, to what custom's constants make of x (they stay inside [0, 1], so no clamping differs).
        var x = Inputs();
        var (m, s) = (tensor(mean).reshape(1, 3, 1, 1), tensor(std).reshape(1, 3, 1, 1));
        var (cm, cs) = (tensor(CifarStats.Mean.ToArray()).reshape(1, 3, 1, 1), tensor(CifarStats.Std.ToArray()).reshape(1, 3, 1, 1));
        var moved = x.sub(m).div(s).mul(cs).add(cm);
        Assert.True(moved.min().item<float>() >= 0 && moved.max().item<float>() <= 1);
        using var noGrad = no_grad();
        var a = custom.Model.forward(x);
        Assert.True(a.sub(plain.Model.forward(moved)).abs().max().item<float>() < 1e-3);
        Assert.True(a.sub(plain.Model.forward(x)).abs().max().item<float>() > 1e-2);
    }

    [Theory]
    [InlineData("unknown_keys.pt", "'layer5.0.conv1.weight'")]
    [InlineData("wrong_shape.pt", "'layer2.1.bn1.weight' has shape [7]")]
    [InlineData("missing_key.pt", "'layer3.0.conv2.weight'")]
    [InlineData("runs_code.pt", "system")]
    [InlineData("storage_past_end.pt", "bytes but only")]
    [InlineData("not_torch.pt", "not a torch.save file")]
    [InlineData("huge_storage.pt", "more bytes than any file holds")]
    public void A_malformed_or_hostile_file_is_refused_with_one_line_naming_it(string file, string what)
    {
        var path = Fixture("bad", file);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointImport.Load(path));
        Assert.StartsWith(path + ":", e.Message);
        Assert.Contains(what, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_storage_whose_byte_count_overflows_is_refused_by_the_plain_reader_too()
    {
        var path = Fixture("bad", "huge_storage.pt");
        var e = Assert.Throws<InvalidDataException>(() => TorchSaveFile.ReadTensors(path));
        Assert.StartsWith(path + ":", e.Message);
        Assert.Contains("more bytes than any file holds", e.Message);
    }

    [Fact]
    public void The_pickle_that_would_run_a_command_runs_nothing()
    {
        var marker = "/tmp/leakage-checkpoint-pwned";
        if (File.Exists(marker)) File.Delete(marker);
        Assert.Throws<InvalidDataException>(() => CheckpointImport.Load(Fixture("bad", "runs_code.pt")));
        Assert.False(File.Exists(marker));
    }

    [Theory]
    [InlineData(ModelFactory.SmallCnnArch, 6)]
    [InlineData(ModelFactory.ResNet18Arch, 4)]
    [InlineData(ModelFactory.AirbenchArch, 8)]
    [InlineData(ModelFactory.ResNet9Arch, 8)]
    public void Our_own_export_imports_back_to_the_same_logits(string arch, int width)
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = ModelFactory.Create(arch, seed: 3, width: width);
        // Batch-norm statistics away from their initial values, so eval mode exercises them.
        using (no_grad())
            foreach (var (name, t) in model.state_dict())
                if (name.EndsWith("running_var")) t.uniform_(0.5, 1.5);
                else if (name.EndsWith("running_mean")) t.normal_(0, 0.1);
        model.eval();
        var file = dir["standard_model.pt"];
        model.save_py(file);

        using var imported = CheckpointImport.Load(file);
        Assert.Equal("export", imported.Info.Layout);
        Assert.Equal(arch, imported.Info.Arch);
        Assert.Equal(width, imported.Info.Width);
        Assert.Equal(CifarStats.Mean, imported.Info.Mean);
        var x = Inputs();
        using var noGrad = no_grad();
        var diff = MaxDifference(imported.Model, x, model.forward(x));
        Assert.True(diff < 1e-5, $"export of {arch}: logits differ by up to {diff:G3}");
    }
}
