using System.Text.Json.Nodes;
using Leakage.Interactive;

namespace Leakage.Notebooks.Tests;

public class InteractiveSettingsTests
{
    static NotebookSettings Read(Dictionary<string, string> env, string notebookDir) =>
        NotebookSettings.FromEnvironment(name => env.TryGetValue(name, out var v) ? v : null, notebookDir);

    public sealed record TrainSettings(int Epochs, double LearningRate, string Model, OptimizerSettings Optimizer);
    public sealed record OptimizerSettings(double Momentum, int[] Milestones);

    static readonly TrainSettings Defaults = new(10, 0.1, "small-cnn", new OptimizerSettings(0.9, [50, 100]));

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
        Assert.Equal(3, (int)s.Overrides["train"]!["epochs"]!);
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
            [NotebookSettings.SettingsVariable] = """{"train": {"epochs": 2, "model": "wide"}}""",
        }, tmp.Path);

        var env = original.ToEnvironment();
        var again = Read(env.ToDictionary(kv => kv.Key, kv => kv.Value), Path.Combine(tmp.Path, "elsewhere"));

        Assert.Equal(original with { Overrides = again.Overrides }, again);
        Assert.True(JsonNode.DeepEquals(original.Overrides, again.Overrides));
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

    [Fact]
    public void Key_value_overrides_nest_dotted_keys_and_keep_arrays_and_strings()
    {
        var o = NotebookSettings.ParseOverrides("train.epochs=3; train.model=wide-cnn, probe.milestones=[5,10]\nseed=7");

        Assert.Equal(3, (int)o["train"]!["epochs"]!);
        Assert.Equal("wide-cnn", (string)o["train"]!["model"]!);
        Assert.Equal(new[] { 5, 10 }, o["probe"]!["milestones"]!.AsArray().Select(n => (int)n!));
        Assert.Equal(7, (int)o["seed"]!);
    }

    [Fact]
    public void Overrides_replace_only_the_named_settings_of_a_section()
    {
        var s = WithOverrides("train.epochs=2, train.optimizer.milestones=[1,2,3], probe.lr=5");

        var t = s.Apply(Defaults, "train");

        Assert.Equal(2, t.Epochs);
        Assert.Equal(0.1, t.LearningRate);
        Assert.Equal("small-cnn", t.Model);
        Assert.Equal(0.9, t.Optimizer.Momentum);
        Assert.Equal(new[] { 1, 2, 3 }, t.Optimizer.Milestones);
        Assert.Same(Defaults, s.Apply(Defaults, "evaluation"));
    }

    [Fact]
    public void A_misspelt_override_is_an_error_listing_the_known_names()
    {
        var s = WithOverrides("train.epoch=2");
        var e = Assert.Throws<ArgumentException>(() => s.Apply(Defaults, "train"));
        Assert.Contains("train.epoch", e.Message);
        Assert.Contains("epochs", e.Message);
        Assert.Contains("learningRate", e.Message);
    }

    [Fact]
    public void An_override_of_the_wrong_type_is_an_error()
    {
        var s = WithOverrides("train.epochs=many");
        var e = Assert.Throws<ArgumentException>(() => s.Apply(Defaults, "train"));
        Assert.Contains(NotebookSettings.SettingsVariable, e.Message);
    }

    static NotebookSettings WithOverrides(string text) =>
        new("quick", "/data", false, "/out", "cpu", 0, NotebookSettings.ParseOverrides(text), false, "/repo");
}
