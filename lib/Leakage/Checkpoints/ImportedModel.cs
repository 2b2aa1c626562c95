using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Leakage.Checkpoints;

/// <summary>How a checkpoint file lays out its weights (<see cref="CheckpointImport"/>).</summary>
public enum CheckpointLayout
{
    /// <summary>
    /// MadryLab <c>robustness</c>: <c>{'model': state_dict, 'optimizer', 'schedule', 'epoch'}</c> with
    /// keys <c>module.model.*</c> (the network), <c>module.normalizer.new_mean/new_std</c> (its input
    /// normalisation) and <c>module.attacker.*</c> (the attacker's copy, ignored).
    /// </summary>
    Robustness,

    /// <summary>
    /// A plain state_dict of a CIFAR ResNet (robustness or torchvision module names: <c>shortcut</c> or
    /// <c>downsample</c>, <c>linear</c> or <c>fc</c>), optionally under <c>state_dict</c>/<c>model</c>/<c>net</c>
    /// and with DataParallel's <c>module.</c> prefix. It carries no normalisation: that comes from the settings.
    /// </summary>
    StateDict,

    /// <summary>Our own <c>export</c>: <c>standard_model.pt</c> (normalisation inside, as <c>normalize.mean/std</c>) beside its <c>metadata.json</c>.</summary>
    Export,
}

/// <summary>What identifies an imported checkpoint: the file's content and how it was read.</summary>
/// <param name="Path">The file as given (informational: a moved file is the same checkpoint).</param>
/// <param name="Sha256">SHA-256 of the file's bytes, lower-case hex.</param>
/// <param name="Bytes">File size.</param>
/// <param name="Layout"><c>robustness</c>, <c>state-dict</c> or <c>export</c>.</param>
/// <param name="Arch">Architecture recognised from the keys (<c>resnet50</c>, <c>resnet18</c>, <c>small-cnn</c>...).</param>
/// <param name="Width">Base width (channels of the first stage).</param>
/// <param name="Parameters">Number of parameters.</param>
/// <param name="Mean">Per-channel mean the model subtracts from pixels in [0, 1].</param>
/// <param name="Std">Per-channel std it divides by.</param>
/// <param name="Normalization"><c>checkpoint</c> when <see cref="Mean"/>/<see cref="Std"/> come from the file, <c>settings</c> otherwise.</param>
public sealed record CheckpointInfo(string Path, string Sha256, long Bytes, string Layout, string Arch, int Width, long Parameters,
    IReadOnlyList<float> Mean, IReadOnlyList<float> Std, string Normalization)
{
    /// <summary>The name of a layout as settings, metadata and results.json write it.</summary>
    public static string LayoutName(CheckpointLayout layout) => layout switch
    {
        CheckpointLayout.Robustness => "robustness",
        CheckpointLayout.StateDict => "state-dict",
        _ => "export",
    };

    /// <summary>
    /// The identity an artifact made from this model records (its metadata.json settings): everything
    /// but the path, so a changed file means recompute and a moved one does not.
    /// </summary>
    public JsonObject Identity() => new()
    {
        ["sha256"] = Sha256,
        ["layout"] = Layout,
        ["arch"] = Arch,
        ["width"] = Width,
        ["mean"] = new JsonArray(Mean.Select(v => (JsonNode)(double)v).ToArray()),
        ["std"] = new JsonArray(Std.Select(v => (JsonNode)(double)v).ToArray()),
    };
}

/// <summary>A classifier read from a PyTorch checkpoint, in eval mode, with its <see cref="Info"/>; dispose the model after use.</summary>
public sealed record ImportedModel(nn.Module<Tensor, Tensor> Model, CheckpointInfo Info) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
