using Leakage.Released;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Checkpoints;

/// <summary>
/// Copies a checkpoint's tensors into a module's parameters and buffers, one tensor at a time, after
/// checking the whole match first: every key of the module present (batch norm's
/// <c>num_batches_tracked</c> may be absent, as in files from torch before 0.4.1), no key the module
/// lacks, every shape equal and every dtype convertible. A mismatch is refused before any weight is
/// copied, with one line naming the file, the key and what the module needs.
/// </summary>
internal static class StateDictCopy
{
    const string BatchCount = "num_batches_tracked";

    /// <param name="archive">The open checkpoint.</param>
    /// <param name="keys">The module's key to the tensor's path in <paramref name="archive"/>.</param>
    /// <param name="model">The module to fill.</param>
    /// <param name="what">The module in messages, e.g. "a resnet50 of width 64".</param>
    /// <param name="skip">Module keys set otherwise (normalisation constants given to its constructor).</param>
    public static void Copy(TorchSaveArchive archive, IReadOnlyDictionary<string, string> keys, nn.Module model, string what, IReadOnlyCollection<string> skip)
    {
        var path = archive.Path;
        var state = model.state_dict();
        var unknown = keys.Keys.Where(k => !state.ContainsKey(k) && !k.EndsWith(BatchCount, StringComparison.Ordinal) && !skip.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new InvalidDataException($"{path}: {Count(unknown.Count, "key")} that {what} does not have: "
                + $"{string.Join(", ", unknown.Take(5).Select(k => $"'{keys[k]}'"))}{(unknown.Count > 5 ? ", ..." : "")}.");
        var missing = state.Keys.Where(k => !keys.ContainsKey(k) && !k.EndsWith(BatchCount, StringComparison.Ordinal) && !skip.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: {Count(missing.Count, "key")} of {what} missing: "
                + $"{string.Join(", ", missing.Take(5).Select(k => $"'{k}'"))}{(missing.Count > 5 ? ", ..." : "")}.");
        var pairs = new List<(Tensor Target, string Source)>();
        foreach (var (name, target) in state)
        {
            if (skip.Contains(name) || !keys.TryGetValue(name, out var source)) continue;
            var info = archive.Tensors[source];
            if (!info.Shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"{path}: '{source}' has shape {info.ShapeText} where {what} needs [{string.Join(", ", target.shape)}].");
            bool wantFloat = is_floating_point(target), haveFloat = IsFloat(info.DType);
            if (wantFloat != haveFloat || info.DType == ScalarType.Bool)
                throw new InvalidDataException($"{path}: '{source}' holds {info.DType} values where {what} needs {target.dtype}.");
            pairs.Add((target, source));
        }
        using var noGrad = no_grad();
        foreach (var (target, source) in pairs)
        {
            using var value = archive.Read(source);
            target.copy_(value);
        }
    }

    static bool IsFloat(ScalarType t) => t is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;

    static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";
}
