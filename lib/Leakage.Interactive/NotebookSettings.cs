using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Leakage.Compute;
using Leakage.Experiment;

namespace Leakage.Interactive;

/// <summary>
/// What a notebook run is configured with, read from environment variables so that the same
/// notebook runs unchanged in VS Code (no variables: interactive defaults) and headlessly (the
/// runner sets them). Pure data: reading it touches neither torch nor the disk beyond probing
/// for the data folder.
/// </summary>
/// <param name="Profile">Experiment size profile, e.g. "quick" (a lower-case name; also the run folder name).</param>
/// <param name="DataDirectory">Absolute path of the CIFAR-10 data folder (may not exist yet: the download target).</param>
/// <param name="DataFound">Whether <paramref name="DataDirectory"/> exists and holds something besides a README.</param>
/// <param name="OutDirectory">Absolute path where this profile's artifacts and outputs go.</param>
/// <param name="Device">Device choice: auto, cpu or cuda (resolved by <see cref="NotebookSetup.Init"/>).</param>
/// <param name="Threads">libtorch CPU threads; 0 keeps libtorch's default.</param>
/// <param name="Overrides">The overrides of <see cref="SettingsVariable"/> as <c>key=value</c> entries, in order
/// (<see cref="SettingsOverrides.Parse"/>); <see cref="NotebookExperiment.ExperimentSettings(NotebookSettings)"/> applies
/// them with <see cref="SettingsOverrides.Apply"/>, the one applier of <c>--set</c>.</param>
/// <param name="Headless">True when a runner executes the notebook (fewer progress updates).</param>
/// <param name="RepositoryRoot">Absolute path of the repository root.</param>
public sealed record NotebookSettings(
    string Profile,
    string DataDirectory,
    bool DataFound,
    string OutDirectory,
    string Device,
    int Threads,
    IReadOnlyList<string> Overrides,
    bool Headless,
    string RepositoryRoot)
{
    /// <summary>Profile name; default "quick".</summary>
    public const string ProfileVariable = "LEAKAGE_PROFILE";
    /// <summary>CIFAR-10 folder; default the repository's data folder or a shared copy beside the checkout.</summary>
    public const string DataVariable = "LEAKAGE_DATA";
    /// <summary>Output folder; default &lt;repo&gt;/runs/&lt;profile&gt;.</summary>
    public const string OutVariable = "LEAKAGE_OUT";
    /// <summary>auto, cpu or cuda; default auto.</summary>
    public const string DeviceVariable = "LEAKAGE_DEVICE";
    /// <summary>libtorch CPU threads; default 0 (libtorch's choice).</summary>
    public const string ThreadsVariable = "LEAKAGE_THREADS";
    /// <summary>Overrides as a JSON object or a key=value list (separated by commas, semicolons or new lines; dotted keys nest).</summary>
    public const string SettingsVariable = "LEAKAGE_SETTINGS";
    /// <summary>Set to 1 by the headless runner.</summary>
    public const string HeadlessVariable = "LEAKAGE_HEADLESS";

    /// <summary>The profile used when <see cref="ProfileVariable"/> is unset.</summary>
    public const string DefaultProfile = "quick";

    /// <summary>Marker file of the repository root.</summary>
    public const string SolutionFile = Experiment.RepositoryRoot.SolutionFile;

    static readonly Regex ProfileName = new("^[a-z][a-z0-9_-]{0,39}$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Reads the settings. Relative paths in variables are taken relative to
    /// <paramref name="notebookDirectory"/> (the kernel's working directory).
    /// </summary>
    /// <param name="getVariable">Environment lookup, e.g. <see cref="Environment.GetEnvironmentVariable(string)"/>.</param>
    /// <param name="notebookDirectory">The folder of the notebook being run.</param>
    /// <exception cref="ArgumentException">A variable holds an invalid value; the message names it.</exception>
    public static NotebookSettings FromEnvironment(Func<string, string?> getVariable, string notebookDirectory)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        var nbDir = Path.GetFullPath(notebookDirectory);
        string? Get(string name) => getVariable(name) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        string Abs(string path) => Path.GetFullPath(Path.Combine(nbDir, path));

        var root = FindRepositoryRoot(nbDir);

        var profile = Get(ProfileVariable) ?? DefaultProfile;
        if (!ProfileName.IsMatch(profile))
            throw new ArgumentException($"{ProfileVariable}='{profile}' is not a valid profile name: use lower-case letters, digits, '-' or '_', starting with a letter.");

        var data = Get(DataVariable) is { } d ? Abs(d) : DefaultDataDirectory(root);

        var outDir = Get(OutVariable) is { } o ? Abs(o) : Path.Combine(root, "runs", profile);

        var device = Get(DeviceVariable) ?? "auto";
        try { device = Devices.Parse(device) switch { DeviceKind.Cpu => "cpu", DeviceKind.Cuda => "cuda", _ => "auto" }; }
        catch (ArgumentException e) { throw new ArgumentException($"{DeviceVariable}: {e.Message}", e); }

        int threads = 0;
        if (Get(ThreadsVariable) is { } t && (!int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out threads) || threads > 4096))
            throw new ArgumentException($"{ThreadsVariable}='{t}' is not a thread count: use a whole number >= 0 (0 = libtorch's default).");

        var overrides = SettingsOverrides.Parse(Get(SettingsVariable), SettingsVariable);

        var headless = Get(HeadlessVariable) is { } h && h is "1" or "true" or "yes";

        return new NotebookSettings(profile, data, HasData(data), outDir, device, threads, overrides, headless, root);
    }

    /// <summary>
    /// The environment variables that reproduce these settings in another process (the runner
    /// passes them to the kernel).
    /// </summary>
    public IReadOnlyDictionary<string, string> ToEnvironment() => new Dictionary<string, string>
    {
        [ProfileVariable] = Profile,
        [DataVariable] = DataDirectory,
        [OutVariable] = OutDirectory,
        [DeviceVariable] = Device,
        [ThreadsVariable] = Threads.ToString(CultureInfo.InvariantCulture),
        [SettingsVariable] = OverridesJson(Overrides),
        [HeadlessVariable] = Headless ? "1" : "0",
    };

    /// <summary>
    /// <paramref name="overrides"/> (<c>key=value</c> entries) as the text of <see cref="SettingsVariable"/>
    /// that <see cref="SettingsOverrides.Parse"/> reads back to the same entries: a JSON object of dotted
    /// keys and string values, so a value keeps its commas, quotes and brackets.
    /// </summary>
    static string OverridesJson(IEnumerable<string> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var json = new JsonObject();
        foreach (var entry in overrides)
        {
            int eq = entry.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"Override '{entry}' is not of the form key=value.", nameof(overrides));
            json[entry[..eq]] = entry[(eq + 1)..];
        }
        return json.ToJsonString();
    }

    /// <summary>The overrides as a notebook shows them: <c>key=value, ...</c>, or "none".</summary>
    public string OverridesText => Overrides.Count == 0 ? "none" : string.Join(", ", Overrides);

    /// <summary>
    /// The nearest ancestor of <paramref name="start"/> (inclusive) holding <see cref="SolutionFile"/>;
    /// failing that, the nearest one for this assembly's location; failing that, the parent of
    /// <paramref name="start"/> (notebooks live one level below the root).
    /// </summary>
    public static string FindRepositoryRoot(string start) =>
        Experiment.RepositoryRoot.Find(start, Path.GetDirectoryName(typeof(NotebookSettings).Assembly.Location)) ?? Path.GetFullPath(Path.Combine(start, ".."));

    /// <summary>
    /// &lt;root&gt;/data when it holds data; else the first <c>shared/data/cifar10-jpg</c> found beside
    /// the checkout or one of its ancestors (development machines and CI keep a copy there);
    /// else &lt;root&gt;/data, where a download would go.
    /// </summary>
    public static string DefaultDataDirectory(string repositoryRoot)
    {
        var local = Path.Combine(repositoryRoot, "data");
        if (HasData(local)) return local;
        for (var dir = new DirectoryInfo(repositoryRoot).Parent; dir != null; dir = dir.Parent)
        {
            var shared = Path.Combine(dir.FullName, "shared", "data", "cifar10-jpg");
            if (HasData(shared)) return shared;
        }
        return local;
    }

    static bool HasData(string dir) =>
        Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir)
            .Any(p => !Path.GetFileName(p).StartsWith("README", StringComparison.OrdinalIgnoreCase));
}
