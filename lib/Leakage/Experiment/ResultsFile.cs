using System.Text.Json.Nodes;
using Leakage.IO;

namespace Leakage.Experiment;

/// <summary>
/// <c>results.json</c> of a run folder: one JSON object updated section by section as steps finish,
/// each update written atomically, so an interrupted run still leaves a valid file with the steps
/// done so far. Accuracies and fractions are in [0,1]; seconds are the compute time of each step
/// (recorded when the step was computed, so cached steps keep their original cost).
/// </summary>
public sealed class ResultsFile
{
    public const string FileName = "results.json";
    readonly object _gate = new();

    public string Path { get; }

    /// <param name="runFolder">The run folder.</param>
    /// <param name="fileName">The file in it: <see cref="FileName"/>, or another name for a tool that shares a run's artifacts but must never rewrite its results (tools/fidelity).</param>
    public ResultsFile(string runFolder, string fileName = FileName) => Path = System.IO.Path.Combine(runFolder, fileName);

    /// <summary>
    /// A finished run's results.json (or any file of that shape, e.g. a recorded run under docs/results),
    /// read through <see cref="RunResultsRecord"/> for comparison or display.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not valid JSON, not a JSON object, or a value has the wrong type; the message names the file.</exception>
    public static RunResultsRecord Load(string path) => ResultsUpgrade.Read(JsonFile.ReadObject(path), path);

    /// <summary>The current content as the record (an empty record when the file does not exist yet).</summary>
    /// <exception cref="InvalidDataException">The file is damaged or a value has the wrong type; the message names the file.</exception>
    public RunResultsRecord Record() => ResultsUpgrade.Read(Read(), Path);

    /// <summary>The current content (an empty object when the file does not exist yet).</summary>
    public JsonObject Read()
    {
        lock (_gate)
        {
            return File.Exists(Path) ? JsonFile.ReadObject(Path, "delete it to start the results over") : new JsonObject();
        }
    }

    /// <summary>Raised after <see cref="Set"/> wrote <c>key</c>: what derives a section from others (<see cref="Fidelity"/>) listens here.</summary>
    public event Action<string>? Written;

    /// <summary>Sets <paramref name="key"/> (dotted path) to <paramref name="value"/> and writes the file atomically.</summary>
    public void Set(string key, JsonNode? value)
    {
        Write(key, value);
        Written?.Invoke(key);
    }

    void Write(string key, JsonNode? value)
    {
        lock (_gate)
        {
            var root = Read();
            var parts = key.Split('.');
            var obj = root;
            foreach (var p in parts[..^1])
            {
                if (obj[p] is not JsonObject child) { child = new JsonObject(); obj[p] = child; }
                obj = child;
            }
            obj[parts[^1]] = value?.DeepClone();
            AtomicFile.WriteAllText(Path, root.ToJsonString(Artifacts.Json));
        }
    }

    /// <summary>Records the compute time of <paramref name="step"/> (<see cref="StepInfo.SecondsKey"/>).</summary>
    public void SetSeconds(StepInfo step, double seconds) => Set(step.SecondsKey, seconds);

    /// <summary>Records the compute time under <paramref name="key"/> of <c>seconds</c> (<see cref="RunResultsRecord.Seconds"/>).</summary>
    public void SetSeconds(string key, double seconds) => Set(SecondsPath(key), seconds);

    /// <summary>The dotted path of the compute time <paramref name="key"/>.</summary>
    public static string SecondsPath(string key) => $"{RunResultsRecord.PathOf(nameof(RunResultsRecord.Seconds))}.{key}";

    /// <summary>Removes the value at dotted path <paramref name="key"/> from <paramref name="root"/>; returns whether there was one.</summary>
    public static bool Remove(JsonObject root, string key)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parts = key.Split('.');
        var parent = parts[..^1].Aggregate((JsonNode?)root, (node, part) => node?[part]) as JsonObject;
        return parent?.Remove(parts[^1]) == true;
    }

    static readonly string ProfileKey = RunResultsRecord.PathOf(nameof(RunResultsRecord.Profile));
    static readonly string SettingsKey = RunResultsRecord.PathOf(nameof(RunResultsRecord.Settings));

    /// <summary>
    /// Prepares the file for a run with <paramref name="settings"/>: when it holds other settings, or is
    /// damaged, it starts over (artifacts are still reused step by step where their own settings match);
    /// a change of the extension settings only (<c>beyond.*</c>) keeps the main results
    /// (<see cref="BeyondResults"/>), and so does a change of the controls' settings only (<c>controls.*</c>,
    /// <see cref="ControlsResults"/>). Says what it did through <paramref name="log"/>.
    /// </summary>
    public void Start(ExperimentSettings settings, Action<string> log)
    {
        JsonObject existing;
        try { existing = Read(); }
        catch (InvalidDataException e)
        {
            // results.json only collects numbers of cached steps: a damaged one is rebuilt, not trusted.
            log($"{Path} is damaged ({e.InnerException?.Message ?? e.Message}); it starts over (cached steps are reused).");
            existing = [];
        }
        var wanted = Artifacts.ToNode(settings);
        // The extensions (beyond.*) and the controls (controls.*) only add results: not part of the identity.
        static JsonNode? Identity(JsonNode? s) => ControlsResults.Identity(BeyondResults.Identity(s));
        var diff = existing.Count == 0 ? null : Artifacts.Diff(Identity(existing[SettingsKey]), Identity(wanted), "");
        if (existing.Count == 0 || diff != null)
        {
            if (diff != null) log($"Settings differ from the previous run in {System.IO.Path.GetDirectoryName(Path)} ({diff}); results.json starts over.");
            AtomicFile.WriteAllText(Path, new JsonObject
            {
                [ProfileKey] = settings.Profile,
                [SettingsKey] = wanted.DeepClone(),
            }.ToJsonString(Artifacts.Json));
            return;
        }
        IReadOnlyList<string> removed = [];
        Update(root =>
        {
            var before = root.ToJsonString();
            removed = [.. BeyondResults.Reconcile(root, settings), .. ControlsResults.Reconcile(root, settings)];
            return root.ToJsonString() != before;
        });
        foreach (var line in removed) log(line);
    }

    /// <summary>
    /// Reads the content, lets <paramref name="change"/> edit it in place, and writes it atomically
    /// when <paramref name="change"/> returns true (nothing is written otherwise). Several keys change
    /// in one write, so a reader never sees half of the edit.
    /// </summary>
    public void Update(Func<JsonObject, bool> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_gate)
        {
            var root = Read();
            if (change(root)) AtomicFile.WriteAllText(Path, root.ToJsonString(Artifacts.Json));
        }
    }
}
