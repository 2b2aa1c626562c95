using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.IO;

namespace Leakage.Interactive;

/// <summary>
/// The bridge between the LEAKAGE_* variables a notebook reads (<see cref="NotebookSettings"/>) and
/// the experiment settings of the library (<see cref="Experiment.ExperimentSettings"/>), in both
/// directions: notebooks turn their environment into settings, and the <c>run</c> command turns
/// settings into the environment it gives the notebooks, so both agree on every value.
/// </summary>
public static class NotebookExperiment
{
    /// <summary>
    /// The experiment settings of this notebook run: the profile named by LEAKAGE_PROFILE, with the
    /// device and thread count of LEAKAGE_DEVICE / LEAKAGE_THREADS, then the LEAKAGE_SETTINGS
    /// overrides (camelCase keys such as <c>data.trainCount</c>), validated.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown profile, unknown setting or invalid value; the message names the variable and the setting.</exception>
    public static ExperimentSettings ExperimentSettings(this NotebookSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ExperimentSettings profile;
        try { profile = Profiles.Get(settings.Profile); }
        catch (ArgumentException e) { throw new ArgumentException($"{NotebookSettings.ProfileVariable}: {e.Message}", e); }
        // The one applier of --set, on the entries SettingsOverrides.Parse read from the variable.
        try { return SettingsOverrides.Apply(profile with { Device = settings.Device, Threads = settings.Threads }, settings.Overrides); }
        catch (ArgumentException e) { throw new ArgumentException($"{NotebookSettings.SettingsVariable}: {e.Message}", e); }
    }

    /// <inheritdoc cref="ExperimentSettings(NotebookSettings)"/>
    public static ExperimentSettings ExperimentSettings(this NotebookConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Settings.ExperimentSettings();
    }

    /// <summary>
    /// The LEAKAGE_* variables under which a notebook reads exactly <paramref name="settings"/>:
    /// profile, data and output folders (absolute), device, threads, and the settings that differ from
    /// the profile as a JSON object in LEAKAGE_SETTINGS. LEAKAGE_HEADLESS is set to 1.
    /// </summary>
    /// <param name="settings">Validated settings (e.g. from the command line).</param>
    /// <param name="dataDirectory">CIFAR-10 folder.</param>
    /// <param name="outDirectory">Run folder shared by all notebooks.</param>
    /// <param name="notebookDirectory">Folder of the notebooks (relative paths resolve against it).</param>
    /// <exception cref="InvalidOperationException">The variables would not reproduce the settings (a bug, not bad input).</exception>
    public static IReadOnlyDictionary<string, string> Environment(ExperimentSettings settings, string dataDirectory, string outDirectory, string notebookDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var profile = Profiles.Get(settings.Profile);
        var overrides = Differences(profile with { Device = settings.Device, Threads = settings.Threads }, settings);
        var variables = new Dictionary<string, string>
        {
            [NotebookSettings.ProfileVariable] = settings.Profile,
            [NotebookSettings.DataVariable] = Path.GetFullPath(dataDirectory),
            [NotebookSettings.OutVariable] = Path.GetFullPath(outDirectory),
            [NotebookSettings.DeviceVariable] = settings.Device,
            [NotebookSettings.ThreadsVariable] = settings.Threads.ToString(CultureInfo.InvariantCulture),
            [NotebookSettings.SettingsVariable] = overrides.ToJsonString(),
            [NotebookSettings.HeadlessVariable] = "1",
        };
        var read = NotebookSettings.FromEnvironment(name => variables.GetValueOrDefault(name), notebookDirectory).ExperimentSettings();
        if (Artifacts.Diff(Artifacts.ToNode(read), Artifacts.ToNode(settings), "") is { } diff)
            throw new InvalidOperationException($"The notebook environment does not reproduce the settings ({diff}).");
        return variables;
    }

    /// <summary>
    /// The settings of <paramref name="settings"/> whose values differ from <paramref name="baseline"/>,
    /// as a nested JSON object of camelCase keys (e.g. <c>{"data":{"trainCount":500}}</c>).
    /// </summary>
    public static JsonObject Differences(ExperimentSettings baseline, ExperimentSettings settings)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(settings);
        return Diff(Artifacts.ToNode(baseline).AsObject(), Artifacts.ToNode(settings).AsObject());

        static JsonObject Diff(JsonObject a, JsonObject b)
        {
            var result = new JsonObject();
            foreach (var (key, value) in b)
            {
                var before = a[key];
                if (value is JsonObject sub && before is JsonObject subBefore)
                {
                    var inner = Diff(subBefore, sub);
                    if (inner.Count > 0) result[key] = inner;
                }
                else if (!JsonNode.DeepEquals(before, value)) result[key] = value?.DeepClone();
            }
            return result;
        }
    }

    /// <summary>
    /// A two-column table of the settings in <paramref name="sections"/> (e.g. "standard", "attack"),
    /// as <c>section.name</c> and value, so a notebook shows the numbers it runs with. No sections:
    /// every setting.
    /// </summary>
    /// <exception cref="ArgumentException">A section does not exist; the message lists the valid ones.</exception>
    public static Html SettingsTable(ExperimentSettings settings, params string[] sections)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var root = Artifacts.ToNode(settings).AsObject();
        var rows = new List<(string, string)> { ("profile", settings.Profile), ("seed", settings.Seed.ToString(CultureInfo.InvariantCulture)) };
        var wanted = sections is { Length: > 0 } ? sections : root.Where(kv => kv.Value is JsonObject).Select(kv => kv.Key).ToArray();
        foreach (var section in wanted)
        {
            var key = root.Select(kv => kv.Key).FirstOrDefault(k => string.Equals(k, section, StringComparison.OrdinalIgnoreCase));
            if (key is null || root[key] is not JsonObject obj)
                throw new ArgumentException($"Unknown settings section '{section}'. Valid sections: {string.Join(", ", root.Where(kv => kv.Value is JsonObject).Select(kv => kv.Key))}.", nameof(sections));
            foreach (var (name, value) in obj) rows.Add(($"{key}.{name}", Format(value)));
        }
        return Tables.KeyValue(rows, "Settings");
    }

    /// <summary>
    /// What a notebook runs with, for its configuration cell: the run (folders, device, the overrides
    /// given) and the settings of <paramref name="sections"/>.
    /// </summary>
    public static Html Describe(ExperimentRun run, NotebookConfig config, params string[] sections)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(config);
        var table = Tables.KeyValue(
        [
            ("profile", run.Settings.Profile),
            ("device", Leakage.Compute.Devices.Describe(run.Device)),
            ("data folder", config.Show(run.DataDirectory)),
            ("run folder", config.Show(run.OutDirectory)),
            ("overrides", config.Settings.OverridesText),
        ], "Run");
        return Html.Concat([table, SettingsTable(run.Settings, sections)]);
    }

    static string Format(JsonNode? value) => value switch
    {
        null => "none",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => Tables.FormatCell(v.GetValue<double>(), 6),
        _ => value.ToJsonString(),
    };
}
