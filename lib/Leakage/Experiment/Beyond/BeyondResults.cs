using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Experiment;

/// <summary>
/// How <c>results.json</c> keeps the results of the extensions beyond Goh (<c>beyond.*</c> settings).
/// The extensions only add sections under <c>beyond</c>; none changes a main step. So their settings
/// are not part of the identity <see cref="ExperimentRun.Open"/> compares: a notebook that switches
/// them on (notebook 07) shares the run folder and results.json with those that do not (01-06), in
/// any order, without starting the results over. Instead, per extension:
/// <list type="bullet">
/// <item>switched on with the settings recorded in results.json: its results stay;</item>
/// <item>switched on with other settings: its results (<see cref="StepInfo.ResultsKey"/>, <see cref="StepInfo.SecondsKey"/>)
/// are removed, since they no longer match, and the new settings are recorded;</item>
/// <item>switched off: its results and recorded settings stay as they are.</item>
/// </list>
/// The <c>settings.beyond</c> of results.json therefore always describes the results under
/// <c>beyond</c>. A change of any other setting still starts results.json over, except the leakage
/// controls' (<c>controls.*</c>), which <see cref="ControlsResults"/> keeps the same way.
/// The extensions and their settings are listed in <see cref="StepCatalog.Extensions"/>.
/// </summary>
public static class BeyondResults
{
    /// <summary>Name of the settings section and of the results section.</summary>
    public static string Section { get; } = RunResultsRecord.PathOf(nameof(RunResultsRecord.Beyond));

    /// <summary>The settings that identify a run's results: all but the <c>beyond</c> section.</summary>
    public static JsonNode? Identity(JsonNode? settings)
    {
        if (settings is not JsonObject obj) return settings?.DeepClone();
        var copy = obj.DeepClone().AsObject();
        copy.Remove(Section);
        return copy;
    }

    /// <summary>
    /// Brings <paramref name="results"/> (a results.json whose other settings match) in line with the
    /// extension settings of <paramref name="settings"/>, as described on the class: removes the results
    /// of every extension switched on with settings other than those recorded and records the new ones.
    /// Returns one line per extension whose results were removed.
    /// </summary>
    public static IReadOnlyList<string> Reconcile(JsonObject results, ExperimentSettings settings)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(settings);
        var wanted = Artifacts.ToNode(settings.Beyond).AsObject();
        if (results[RunResultsRecord.PathOf(nameof(RunResultsRecord.Settings))] is not JsonObject recordedSettings)
            throw new ArgumentException("results.json has no settings object to reconcile.", nameof(results));
        var recorded = recordedSettings[Section] as JsonObject;
        if (recorded is null) recordedSettings[Section] = recorded = new JsonObject();
        var removed = new List<string>();
        foreach (var extension in StepCatalog.Extensions)
        {
            if (!extension.Runs(settings)) continue;
            var changed = extension.BeyondSettings.Where(k => !JsonNode.DeepEquals(recorded[k], wanted[k])).ToList();
            if (changed.Count == 0) continue;
            bool hadResults = ResultsFile.Remove(results, extension.ResultsKey);
            ResultsFile.Remove(results, extension.SecondsKey);
            if (hadResults)
                removed.Add($"{extension.ResultsKey}: made with other settings ({string.Join(", ", changed.Select(k =>
                    $"{Section}.{k}: {recorded[k]?.ToJsonString() ?? "unset"} -> {wanted[k]?.ToJsonString() ?? "null"}"))}), removed from results.json");
            foreach (var k in extension.BeyondSettings) recorded[k] = wanted[k]?.DeepClone();
        }
        return removed;
    }
}
