using Leakage.Experiment;
using Leakage.Interactive;
using Leakage.IO;

namespace Leakage.Notebooks.Tests;

public class InteractiveSettingsTests
{
    static NotebookSettings Read(Dictionary<string, string> env, string notebookDir) =>
        NotebookSettings.FromEnvironment(name => env.TryGetValue(name, out var v) ? v : null, notebookDir);

    [Fact]
    public void Without_variables_the_quick_profile_writes_below_the_repository_runs_folder()
    {
        using var tmp = new TempDir();
        File.WriteAllText(Path.Combine(tmp.Path, NotebookSettings.SolutionFile), "");
        var notebooks = Directory.CreateDirectory(Path.Combine(tmp.Path, "notebooks")).FullName;

        var s = Read(new(), notebooks);

        Assert.Equal("quick", s.Profile);
        Assert.Equal(tmp.Path, s.RepositoryRoot);
        Assert.Equal(Path.Combine(tmp.Path, "runs", "quick"), s.OutDirectory);
        Assert.Equal("auto", s.Device);
        Assert.Equal(0, s.Threads);
        Assert.Empty(s.Overrides);
        Assert.False(s.Headless);
    }

    [Fact]
    public void The_repository_data_folder_is_preferred_once_it_holds_data()
    {
        using var tmp = new TempDir();
        var root = Directory.CreateDirectory(Path.Combine(tmp.Path, "repo")).FullName;
        File.WriteAllText(Path.Combine(root, NotebookSettings.SolutionFile), "");
        var data = Directory.CreateDirectory(Path.Combine(root, "data")).FullName;
        File.WriteAllText(Path.Combine(data, "README.md"), "only a readme");
        var shared = Directory.CreateDirectory(Path.Combine(tmp.Path, "shared", "data", "cifar10-jpg", "train")).Parent!.FullName;

        Assert.Equal(shared, NotebookSettings.DefaultDataDirectory(root));

        Directory.CreateDirectory(Path.Combine(data, "cifar-10-batches-bin"));
        Assert.Equal(data, NotebookSettings.DefaultDataDirectory(root));
    }

    [Fact]
    public void Variables_set_every_setting_and_relative_paths_resolve_against_the_notebook_folder()
    {
        using var tmp = new TempDir();
        var s = Read(new()
        {
            [NotebookSettings.ProfileVariable] = "full",
            [NotebookSettings.DataVariable] = "../cifar",
            [NotebookSettings.OutVariable] = "out",
            [NotebookSettings.DeviceVariable] = "CPU",
            [NotebookSettings.ThreadsVariable] = "2",
            [NotebookSettings.SettingsVariable] = "train.epochs=3",
            [NotebookSettings.HeadlessVariable] = "1",
        }, tmp.Path);

        Assert.Equal("full", s.Profile);
        Assert.Equal(Path.GetFullPath(Path.Combine(tmp.Path, "..", "cifar")), s.DataDirectory);
        Assert.Equal(Path.Combine(tmp.Path, "out"), s.OutDirectory);
        Assert.Equal("cpu", s.Device);
        Assert.Equal(2, s.Threads);
        Assert.Equal(["train.epochs=3"], s.Overrides);
        Assert.True(s.Headless);
    }

    [Fact]
    public void Settings_survive_the_trip_through_environment_variables()
    {
        using var tmp = new TempDir();
        var original = Read(new()
        {
            [NotebookSettings.ProfileVariable] = "cpu",
            [NotebookSettings.DeviceVariable] = "cpu",
            [NotebookSettings.ThreadsVariable] = "1",
            [NotebookSettings.SettingsVariable] = """{"train": {"epochs": 2, "model": "wide"}, "note": "a, b; [c]", "quoted": "\"x\""}""",
        }, tmp.Path);

        var env = original.ToEnvironment();
        var again = Read(env.ToDictionary(kv => kv.Key, kv => kv.Value), Path.Combine(tmp.Path, "elsewhere"));

        Assert.Equal(original with { Overrides = again.Overrides }, again);
        Assert.Equal(["train.epochs=2", "train.model=wide", "note=a, b; [c]", "quoted=\"x\""], original.Overrides);
        Assert.Equal(original.Overrides, again.Overrides);
    }

    [Theory]
    [InlineData(NotebookSettings.ProfileVariable, "Quick Run", "LEAKAGE_PROFILE")]
    [InlineData(NotebookSettings.DeviceVariable, "tpu", "LEAKAGE_DEVICE")]
    [InlineData(NotebookSettings.ThreadsVariable, "-1", "LEAKAGE_THREADS")]
    [InlineData(NotebookSettings.ThreadsVariable, "two", "LEAKAGE_THREADS")]
    [InlineData(NotebookSettings.SettingsVariable, "{not json", "LEAKAGE_SETTINGS")]
    [InlineData(NotebookSettings.SettingsVariable, "epochs", "LEAKAGE_SETTINGS")]
    [InlineData(NotebookSettings.SettingsVariable, "a=1,a=2", "LEAKAGE_SETTINGS")]
    [InlineData(NotebookSettings.SettingsVariable, "name=\"open", "LEAKAGE_SETTINGS")]
    public void An_invalid_variable_is_an_error_that_names_it(string variable, string value, string named)
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => Read(new() { [variable] = value }, tmp.Path));
        Assert.Contains(named, e.Message);
    }

    // LEAKAGE_SETTINGS reaches the experiment settings through the one applier of --set
    // (SettingsOverrides.Apply, by NotebookExperiment.ExperimentSettings), with its checks.

    static ExperimentSettings Apply(string overrides) =>
        Read(new() { [NotebookSettings.SettingsVariable] = overrides }, Repo.Notebooks).ExperimentSettings();

    [Fact]
    public void Key_value_overrides_nest_dotted_keys_and_keep_arrays_and_strings()
    {
        const string text = "standard.epochs=3; standard.arch=airbench, beyond.sweepRadii=[5,10]\nseed=7";
        Assert.Equal(["standard.epochs=3", "standard.arch=airbench", "beyond.sweepRadii=[5,10]", "seed=7"],
            Read(new() { [NotebookSettings.SettingsVariable] = text }, Repo.Notebooks).Overrides);

        var s = Apply(text);

        Assert.Equal(3, s.Standard.Epochs);
        Assert.Equal("airbench", s.Standard.Arch);
        Assert.Equal([5.0, 10.0], s.Beyond.SweepRadii);
        Assert.Equal(7, s.Seed);
    }

    [Fact]
    public void Overrides_replace_only_the_named_settings_of_a_section()
    {
        var quick = Profiles.Get("quick");

        var s = Apply("standard.epochs=2, standard.checkpointMean=[0.1,0.2,0.3], probe.l2=5");

        Assert.Equal(2, s.Standard.Epochs);
        Assert.Equal(quick.Standard.Lr, s.Standard.Lr);
        Assert.Equal(quick.Standard.Arch, s.Standard.Arch);
        Assert.Equal(quick.Standard.Momentum, s.Standard.Momentum);
        Assert.Equal([0.1, 0.2, 0.3], s.Standard.CheckpointMean);
        Assert.Equal(5, s.Probe.L2);
        Assert.Equal(quick.Probe.Bootstrap, s.Probe.Bootstrap);
        Assert.Null(Artifacts.Diff(Artifacts.ToNode(quick.Attack), Artifacts.ToNode(s.Attack), ""));
        Assert.Null(Artifacts.Diff(Artifacts.ToNode(quick), Artifacts.ToNode(Apply("")), ""));
    }

    [Fact]
    public void A_misspelt_override_is_an_error_listing_the_known_names()
    {
        var e = Assert.Throws<ArgumentException>(() => Apply("standard.epoch=2"));
        Assert.Contains(NotebookSettings.SettingsVariable, e.Message);
        Assert.Contains("standard.epoch", e.Message);
        Assert.Contains("standard.epochs", e.Message);
        Assert.Contains("standard.lr", e.Message);
    }

    [Fact]
    public void An_override_of_the_wrong_type_is_an_error()
    {
        var e = Assert.Throws<ArgumentException>(() => Apply("standard.epochs=many"));
        Assert.Contains(NotebookSettings.SettingsVariable, e.Message);
        Assert.Contains("standard.epochs", e.Message);
    }
}
