using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Models;

/// <summary>
/// Saves and loads trained classifiers as artifacts: a folder with the weights
/// (<see cref="WeightsFile"/>, TorchSharp's module format, written atomically) and a
/// <c>metadata.json</c> (<see cref="Artifacts"/>) holding the architecture, the width, the caller's
/// settings (what training produced the model) and checksums. A model is only loaded when the
/// architecture and settings match and every checksum verifies; otherwise the reason is reported and
/// nothing is used.
/// </summary>
public static class ModelStore
{
    /// <summary>Artifact kind recorded in metadata.json.</summary>
    public const string Kind = "model";

    /// <summary>File name of the weights inside the artifact folder.</summary>
    public const string WeightsFile = "model.bin";

    /// <summary>
    /// Saves <paramref name="model"/> (built by <see cref="ModelFactory"/>) into <paramref name="dir"/>,
    /// replacing what was there. The old metadata is removed first, so a crash mid-save leaves an
    /// artifact that is refused rather than a mix of old and new.
    /// </summary>
    /// <param name="model">A model implementing <see cref="ICifarClassifier"/>, on any device.</param>
    /// <param name="dir">Artifact folder (created if needed).</param>
    /// <param name="settings">What made the model (e.g. training options and data fingerprint); any JSON-serialisable object.</param>
    /// <param name="extra">Informational values (accuracy, timings) stored alongside but not compared on load.</param>
    public static void Save(nn.Module<Tensor, Tensor> model, string dir, object settings, JsonObject? extra = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        var classifier = model as ICifarClassifier ?? throw new ArgumentException(
            $"ModelStore.Save needs a model built by ModelFactory (implementing {nameof(ICifarClassifier)}); got {model.GetType().Name}.", nameof(model));
        Directory.CreateDirectory(dir);
        var meta = Path.Combine(dir, Artifacts.MetadataFile);
        if (File.Exists(meta)) File.Delete(meta);
        AtomicFile.Write(Path.Combine(dir, WeightsFile), s =>
        {
            using var writer = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
            model.save(writer);
        });
        var info = new JsonObject
        {
            ["parameters"] = model.parameters().Sum(p => p.numel()),
            ["fingerprint"] = Fingerprint.Of(model),
        };
        if (extra != null)
            foreach (var (k, v) in extra) info[k] = v?.DeepClone();
        Artifacts.Commit(dir, Kind, StoredSettings(classifier.Arch, classifier.Width, settings), [WeightsFile], info);
    }

    /// <summary>
    /// Loads the model in <paramref name="dir"/> onto <paramref name="device"/>, in eval mode, if it was
    /// saved with the same architecture, width and settings and its file is intact.
    /// </summary>
    /// <param name="dir">Artifact folder written by <see cref="Save"/>.</param>
    /// <param name="arch">Expected architecture (one of <see cref="ModelFactory.Architectures"/>).</param>
    /// <param name="settings">Expected settings; must equal those given to <see cref="Save"/>.</param>
    /// <param name="device">Where to put the loaded model.</param>
    /// <param name="width">Base width; null means the architecture's default.</param>
    /// <exception cref="InvalidDataException">The artifact is missing, mismatched or corrupt; the message says which and why.</exception>
    public static nn.Module<Tensor, Tensor> Load(string dir, string arch, object settings, Device device, int? width = null) =>
        TryLoad(dir, arch, settings, device, out var model, out var reason, width)
            ? model
            : throw new InvalidDataException($"Model artifact {dir} cannot be used: {reason}");

    /// <summary>Like <see cref="Load"/>, but returns false with the <paramref name="reason"/> instead of throwing.</summary>
    public static bool TryLoad(string dir, string arch, object settings, Device device,
        [NotNullWhen(true)] out nn.Module<Tensor, Tensor>? model, out string reason, int? width = null)
    {
        TorchNative.Ensure();
        model = null;
        var name = ModelFactory.Canonical(arch);
        var w = width ?? ModelFactory.DefaultWidth(name);
        if (!Artifacts.TryValidate(dir, Kind, StoredSettings(name, w, settings), out reason)) return false;
        var path = Path.Combine(dir, WeightsFile);
        var candidate = ModelFactory.Create(name, seed: 0, width: w);
        try
        {
            candidate.load(path, strict: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException or IOException or NotImplementedException or OverflowException)
        {
            candidate.Dispose();
            reason = $"{path} could not be read as a {name} (width {w}) model: {e.Message}";
            return false;
        }
        if (device.type != DeviceType.CPU) candidate.to(device);
        candidate.eval();
        model = candidate;
        return true;
    }

    /// <summary>The settings object recorded in metadata.json: architecture, width and the caller's settings.</summary>
    public static JsonObject StoredSettings(string arch, int width, object settings) => new()
    {
        ["arch"] = ModelFactory.Canonical(arch),
        ["width"] = width,
        ["settings"] = Artifacts.ToNode(settings).DeepClone(),
    };
}
