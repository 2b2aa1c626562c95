using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Models;
using Leakage.Native;
using Leakage.Released;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Checkpoints;

/// <summary>What <see cref="CheckpointImport.Load"/> needs besides the file.</summary>
/// <param name="Arch"><c>auto</c> (recognise from the keys) or the architecture the file must hold.</param>
/// <param name="Mean">Normalisation for files that carry none (null: <see cref="CifarStats"/>).</param>
/// <param name="Std">Likewise.</param>
public sealed record CheckpointOptions(string Arch = CheckpointImport.AutoArch, IReadOnlyList<float>? Mean = null, IReadOnlyList<float>? Std = null);

/// <summary>
/// Reads a PyTorch CIFAR-10 classifier from a checkpoint file (<see cref="CheckpointLayout"/>):
/// MadryLab robustness checkpoints, plain state_dicts of CIFAR ResNets, and our own export. The file
/// goes through <see cref="TorchSaveArchive"/> (nothing in it runs, only the model's tensors are
/// read), the layout and the architecture are recognised from the keys, and every key and shape is
/// checked against the architecture before a weight is copied: a missing, unknown or misshapen key is
/// refused with one line naming the file and the key. The model normalises its own input (the
/// checkpoint's constants where it has them), so attacks stay in pixel space.
/// </summary>
public static class CheckpointImport
{
    /// <summary>The <see cref="CheckpointOptions.Arch"/> that recognises the architecture from the keys.</summary>
    public const string AutoArch = "auto";

    /// <summary>Every value <see cref="CheckpointOptions.Arch"/> takes.</summary>
    public static IReadOnlyList<string> Architectures { get; } = [AutoArch, .. ResNetShape.Names, WideArch, ModelFactory.SmallCnnArch];

    /// <summary>The <see cref="CheckpointOptions.Arch"/> that accepts any WideResNet (<c>wrn-28-10</c>, <c>wrn-34-10</c>...).</summary>
    public const string WideArch = "wide-resnet";

    static readonly string[] Wrappers = ["model", "state_dict", "model_state_dict", "net"];

    /// <summary>Loads the classifier in <paramref name="path"/> on the CPU, in eval mode.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a supported checkpoint, or one that does not match its architecture; the message names the file and what is wrong.</exception>
    public static ImportedModel Load(string path, CheckpointOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        TorchNative.Ensure();
        options ??= new CheckpointOptions();
        var want = options.Arch.Trim().ToLowerInvariant();
        if (!Architectures.Contains(want))
            throw new ArgumentException($"Checkpoint architecture '{options.Arch}' is not valid. Valid choices: {string.Join(", ", Architectures)}.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: checkpoint not found.", path);
        var sha = Artifacts.Sha256(path);
        using var archive = TorchSaveArchive.Open(path);
        var (layout, keys) = Recognise(archive);

        IReadOnlyList<float> mean = options.Mean ?? CifarStats.Mean, std = options.Std ?? CifarStats.Std;
        string normalization = "settings";
        nn.Module<Tensor, Tensor> model;
        if (layout == CheckpointLayout.Export)
        {
            var (arch, width) = ExportArch(archive, keys);
            model = ModelFactory.Create(arch, 0, width);
            normalization = "checkpoint";
        }
        else
        {
            if (keys.Remove("normalize.mean", out var meanKey) | keys.Remove("normalize.std", out var stdKey))
            {
                mean = Constants(archive, meanKey, "mean");
                std = Constants(archive, stdKey, "std");
                normalization = "checkpoint";
            }
            model = keys.ContainsKey("block1.layer.0.conv1.weight") ? WideResNetOf(archive, keys, mean, std) : new CifarResNet(ResNetShapeOf(archive, keys), mean, std);
        }
        try
        {
            var arch = ((ICifarClassifier)model).Arch;
            int width = ((ICifarClassifier)model).Width;
            if (want != AutoArch && want != arch && !(want == WideArch && model is WideResNet))
                throw new InvalidDataException($"{path}: holds a {arch} (width {width}), not the {want} the settings ask for.");
            StateDictCopy.Copy(archive, keys, model, $"a {arch} of width {width}", skip: layout == CheckpointLayout.Export ? [] : ["normalize.mean", "normalize.std"]);
            if (layout == CheckpointLayout.Export)
                (mean, std) = (Constants(archive, keys["normalize.mean"], "mean"), Constants(archive, keys["normalize.std"], "std"));
            model.eval();
            var info = new CheckpointInfo(path, sha, new FileInfo(path).Length, CheckpointInfo.LayoutName(layout), arch, width,
                model.parameters().Sum(p => p.numel()), [.. mean], [.. std], normalization);
            return new ImportedModel(model, info);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The layout, and the model's tensors: our module key (robustness names, <c>normalize.mean/std</c>)
    /// to the path in the archive. Tensors outside the model (optimizer state, the attacker's copy) are left out.
    /// </summary>
    static (CheckpointLayout, Dictionary<string, string>) Recognise(TorchSaveArchive archive)
    {
        var path = archive.Path;
        if (archive.Tensors.Count == 0) throw new InvalidDataException($"{path}: holds no tensors, so no model weights.");
        // The model's dict: the top level, or one wrapper key (robustness's 'model', 'state_dict', 'net').
        var top = archive.Tensors.Keys.Where(k => !k.Contains('/')).ToList();
        string? wrapper = top.Count > 0 ? null
            : Wrappers.FirstOrDefault(w => archive.Tensors.Keys.Any(k => k.StartsWith(w + "/", StringComparison.Ordinal) && k.IndexOf('/', w.Length + 1) < 0))
              ?? throw new InvalidDataException($"{path}: no state_dict found: expected the weights at the top level or under one of "
                  + $"{string.Join(", ", Wrappers.Select(w => $"'{w}'"))}, found tensors such as '{archive.Tensors.Keys.First()}'.");
        var names = wrapper is null ? top : archive.Tensors.Keys.Where(k => k.StartsWith(wrapper + "/", StringComparison.Ordinal) && k.IndexOf('/', wrapper.Length + 1) < 0)
            .Select(k => k[(wrapper.Length + 1)..]).ToList();
        string Full(string name) => wrapper is null ? name : $"{wrapper}/{name}";
        var map = new Dictionary<string, string>(StringComparer.Ordinal);

        if (names.All(n => n.StartsWith("module.", StringComparison.Ordinal)))
            names = names.Select(n => n["module.".Length..]).ToList(); // saved from DataParallel
        string Original(string stripped) => archive.Tensors.ContainsKey(Full("module." + stripped)) ? Full("module." + stripped) : Full(stripped);

        if (names.Any(n => n.StartsWith("model.", StringComparison.Ordinal)) && names.Any(n => n.StartsWith("normalizer.", StringComparison.Ordinal) || n.StartsWith("attacker.", StringComparison.Ordinal)))
        {
            foreach (var n in names)
            {
                if (n.StartsWith("attacker.", StringComparison.Ordinal)) continue;       // the attacker's copy of the same weights
                if (n.StartsWith("model.", StringComparison.Ordinal)) map[n["model.".Length..]] = Original(n);
                else if (n == "normalizer.new_mean") map["normalize.mean"] = Original(n);
                else if (n == "normalizer.new_std") map["normalize.std"] = Original(n);
                else throw new InvalidDataException($"{path}: unknown key '{Original(n)}' in a robustness checkpoint (expected model.*, normalizer.new_mean/new_std and attacker.*).");
            }
            return (CheckpointLayout.Robustness, map);
        }
        if (wrapper is null && names.Contains("normalize.mean") && names.Contains("normalize.std"))
        {
            foreach (var n in names) map[n] = Original(n);
            return (CheckpointLayout.Export, map);
        }
        foreach (var n in names)
        {
            var ours = n.Replace(".downsample.", ".shortcut.", StringComparison.Ordinal);
            if (ours.StartsWith("fc.", StringComparison.Ordinal)) ours = "linear." + ours["fc.".Length..];
            if (!map.TryAdd(ours, Original(n)))
                throw new InvalidDataException($"{path}: keys '{map[ours]}' and '{Original(n)}' name the same weight.");
        }
        return (CheckpointLayout.StateDict, map);
    }

    /// <summary>The ResNet the keys describe: block kind, blocks per stage, width, classes.</summary>
    static ResNetShape ResNetShapeOf(TorchSaveArchive archive, Dictionary<string, string> keys)
    {
        var path = archive.Path;
        TorchTensorInfo Info(string key) => keys.TryGetValue(key, out var full) ? archive.Tensors[full]
            : throw new InvalidDataException($"{path}: no '{key}', so not a CIFAR ResNet of robustness or torchvision layout "
                + $"(supported: {string.Join(", ", ResNetShape.Names)} and WideResNets; keys start {string.Join(", ", keys.Values.Take(3).Select(k => $"'{k}'"))}).");
        var stem = Info("conv1.weight");
        if (stem.Shape.Length != 4 || stem.Shape[1] != CifarStats.Channels)
            throw new InvalidDataException($"{path}: '{keys["conv1.weight"]}' has shape {stem.ShapeText}, not that of a convolution of 3 input channels.");
        if (stem.Shape[2] != 3 || stem.Shape[3] != 3)
            throw new InvalidDataException($"{path}: the first convolution is {stem.Shape[2]}x{stem.Shape[3]} (an ImageNet stem?); CIFAR ResNets start with a 3x3 convolution without max-pool, which is what this reads.");
        var fc = Info("linear.weight");
        if (fc.Shape.Length != 2) throw new InvalidDataException($"{path}: '{keys["linear.weight"]}' has shape {fc.ShapeText}, not that of a linear layer.");
        bool bottleneck = keys.ContainsKey("layer1.0.conv3.weight");
        var blocks = new int[4];
        for (int stage = 0; stage < 4; stage++)
        {
            while (keys.ContainsKey($"layer{stage + 1}.{blocks[stage]}.conv1.weight")) blocks[stage]++;
            if (blocks[stage] == 0) Info($"layer{stage + 1}.0.conv1.weight");
        }
        if (stem.Shape[0] > int.MaxValue || fc.Shape[0] > int.MaxValue) throw new InvalidDataException($"{path}: implausible layer sizes.");
        var shape = new ResNetShape(bottleneck, blocks, (int)stem.Shape[0], (int)fc.Shape[0]);
        if (shape.Classes != CifarStats.Classes)
            throw new InvalidDataException($"{path}: a classifier of {shape.Classes} classes ('{keys["linear.weight"]}' has shape {fc.ShapeText}); CIFAR-10 needs {CifarStats.Classes}.");
        if (shape.Name is null)
            throw new InvalidDataException($"{path}: a ResNet with {(bottleneck ? "bottleneck" : "basic")} blocks [{string.Join(", ", blocks)}], which is none of {string.Join(", ", ResNetShape.Names)}.");
        return shape;
    }

    /// <summary>
    /// The WideResNet the keys describe (TRADES / RobustBench names: <c>block1.layer.i.*</c>,
    /// <c>convShortcut</c>, <c>fc</c>; the unused <c>sub_block1</c> of the TRADES code is ignored).
    /// </summary>
    static WideResNet WideResNetOf(TorchSaveArchive archive, Dictionary<string, string> keys, IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        var path = archive.Path;
        foreach (var k in keys.Keys.Where(k => k.StartsWith("sub_block1.", StringComparison.Ordinal)).ToList()) keys.Remove(k);
        foreach (var k in keys.Keys.Where(k => k.StartsWith("linear.", StringComparison.Ordinal)).ToList())
        {
            keys["fc." + k["linear.".Length..]] = keys[k];
            keys.Remove(k);
        }
        int Count(int stage) { int n = 0; while (keys.ContainsKey($"block{stage}.layer.{n}.conv1.weight")) n++; return n; }
        int blocks = Count(1);
        if (Count(2) != blocks || Count(3) != blocks)
            throw new InvalidDataException($"{path}: a WideResNet with {blocks}, {Count(2)} and {Count(3)} blocks in its stages; they must be equal.");
        var first = archive.Tensors[keys["block1.layer.0.conv1.weight"]];
        if (first.Shape.Length != 4 || first.Shape[0] % 16 != 0 || first.Shape[0] == 0)
            throw new InvalidDataException($"{path}: '{keys["block1.layer.0.conv1.weight"]}' has shape {first.ShapeText}; a WideResNet's first stage has 16 k channels.");
        var fc = keys.TryGetValue("fc.weight", out var fcKey) ? archive.Tensors[fcKey]
            : throw new InvalidDataException($"{path}: a WideResNet without 'fc.weight'.");
        if (fc.Shape.Length != 2 || fc.Shape[0] != CifarStats.Classes)
            throw new InvalidDataException($"{path}: '{fcKey}' has shape {fc.ShapeText}; a CIFAR-10 classifier has {CifarStats.Classes} outputs.");
        return new WideResNet(blocks, (int)(first.Shape[0] / 16), CifarStats.Classes, mean, std);
    }

    /// <summary>Architecture and width of our own export: from its metadata.json when beside it, else from the keys.</summary>
    static (string Arch, int Width) ExportArch(TorchSaveArchive archive, Dictionary<string, string> keys)
    {
        var path = archive.Path;
        var meta = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, Artifacts.MetadataFile);
        if (File.Exists(meta))
        {
            var root = JsonFile.ReadObject(meta);
            if ((string?)root["kind"] == Export.PyTorchExport.ArtifactKind
                && root["files"]?[Path.GetFileName(path)]?["sha256"] is JsonNode recorded && root["settings"]?["standardModel"] is JsonObject sm)
            {
                if (!string.Equals((string?)recorded, Artifacts.Sha256(path), StringComparison.OrdinalIgnoreCase))
                    throw new InvalidDataException($"{path}: differs from the checksum its export's {meta} records (changed or corrupt).");
                return (ModelFactory.Canonical((string?)sm["arch"] ?? ""), (int?)sm["width"] ?? throw new InvalidDataException($"{meta}: no standardModel width."));
            }
        }
        var arch = keys.ContainsKey("layer1.0.conv1.weight") ? ModelFactory.ResNet18Arch
            : keys.ContainsKey("conv4.weight") && keys.ContainsKey("fc.weight") ? ModelFactory.SmallCnnArch
            : keys.ContainsKey("whiten.weight") && keys.ContainsKey("group3.conv2.weight") ? ModelFactory.AirbenchArch
            : keys.ContainsKey("prep.conv.weight") && keys.ContainsKey("res2.b.conv.weight") ? ModelFactory.ResNet9Arch
            : throw new InvalidDataException($"{path}: has normalize.mean/std like our export, but not the keys of a resnet18, small-cnn, airbench or resnet9.");
        // The base width: the first convolution's output channels (airbench: its first group's).
        var first = arch switch { ModelFactory.AirbenchArch => "group1.conv1.weight", ModelFactory.ResNet9Arch => "prep.conv.weight", _ => "conv1.weight" };
        var conv1 = archive.Tensors[keys.TryGetValue(first, out var k) ? k : throw new InvalidDataException($"{path}: no '{first}'.")];
        return (arch, (int)conv1.Shape[0]);
    }

    /// <summary>Three per-channel constants (shape [3], [3,1,1] or [1,3,1,1]), finite, and positive for the std.</summary>
    static float[] Constants(TorchSaveArchive archive, string? key, string what)
    {
        var path = archive.Path;
        if (key is null) throw new InvalidDataException($"{path}: has a normalizer {(what == "mean" ? "std" : "mean")} but no {what}.");
        var info = archive.Tensors[key];
        if (info.Shape.Aggregate(1L, (a, b) => a * b) != CifarStats.Channels || info.DType is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
            throw new InvalidDataException($"{path}: '{key}' is a {info.DType} tensor of shape {info.ShapeText}; a normalisation {what} has 3 floating-point values.");
        using var t = archive.Read(key);
        using var f = t.flatten().to(ScalarType.Float32);
        var values = f.data<float>().ToArray();
        if (values.Any(v => !float.IsFinite(v)) || (what == "std" && values.Any(v => !(v > 0))))
            throw new InvalidDataException($"{path}: '{key}' = [{string.Join(", ", values)}] is not a valid normalisation {what}.");
        return values;
    }
}
