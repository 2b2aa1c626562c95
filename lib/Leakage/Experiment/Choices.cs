using Leakage.Adversarial;
using Leakage.Attacks;
using System.Text.Json;
using Leakage.Compute;
using Leakage.IO;
using Leakage.Robust;
using Leakage.Training;

namespace Leakage.Experiment;

/// <summary>
/// The settings whose values come from a fixed list, with the names <c>--set</c>,
/// <c>$LEAKAGE_SETTINGS</c> and results.json use, parsed strictly: anything else is an error that names
/// the setting and lists the valid values.
/// </summary>
public static class Choices
{
    /// <summary>Valid values of each choice setting, by dotted key.</summary>
    public static IReadOnlyDictionary<string, string[]> Valid { get; } = new Dictionary<string, string[]>
    {
        ["device"] = ["auto", "cpu", "cuda"],
        ["standard.arch"] = [.. Models.ModelFactory.Architectures],
        ["transfer.arch"] = [.. Models.ModelFactory.Architectures],
        ["standard.schedule"] = ["onecycle", "cosine", "airbench"],
        ["standard.checkpointArch"] = [.. Checkpoints.CheckpointImport.Architectures],
        ["robust.units"] = ["pixel", "normalised"],
        ["compute.precision"] = ["auto", "fp32", "bf16"],
        ["controls.leakageOnly"] = ["keller", "gaussian"],
    };

    /// <summary>Choice settings that may also be null (then another setting decides: <c>transfer.arch</c> null trains <c>standard.arch</c>).</summary>
    public static IReadOnlySet<string> Optional { get; } = new HashSet<string> { "transfer.arch" };

    static readonly Dictionary<Type, (string Key, object[] Values)> Enums = new()
    {
        [typeof(DeviceKind)] = ("device", [DeviceKind.Auto, DeviceKind.Cpu, DeviceKind.Cuda]),
        [typeof(LrSchedule)] = ("standard.schedule", [LrSchedule.OneCycle, LrSchedule.Cosine, LrSchedule.Airbench]),
        [typeof(RadiusUnits)] = ("robust.units", [RadiusUnits.Pixel, RadiusUnits.Normalised]),
        [typeof(Precision)] = ("compute.precision", [Precision.Auto, Precision.Fp32, Precision.Bf16]),
        [typeof(LeakageOnlyConstruction)] = ("controls.leakageOnly", [LeakageOnlyConstruction.Keller, LeakageOnlyConstruction.Gaussian]),
    };

    /// <summary>
    /// The canonical name of <paramref name="value"/> for the choice setting <paramref name="key"/>
    /// (matched case-insensitively).
    /// </summary>
    /// <exception cref="ArgumentException">Not a valid value (or not a choice setting); the message names the setting and lists the valid values.</exception>
    public static string Check(string key, string? value)
    {
        if (!Valid.TryGetValue(key, out var valid)) throw new ArgumentException($"Setting '{key}' is not a choice; choices: {string.Join(", ", Valid.Keys)}.");
        return valid.FirstOrDefault(v => string.Equals(v, value?.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Setting '{key}' = '{value}' is not valid. Valid choices: {string.Join(", ", valid)}.");
    }

    /// <summary>The library value of the choice setting <paramref name="key"/> named <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentException">Not a valid value; the message names the setting and lists the valid values.</exception>
    public static T Parse<T>(string key, string? value) where T : struct, Enum
    {
        var name = Check(key, value);
        var (k, values) = Enums[typeof(T)];
        if (k != key) throw new ArgumentException($"Setting '{key}' does not hold a {typeof(T).Name}.");
        return (T)values[Array.IndexOf(Valid[key], name)];
    }
}
