using Leakage.Experiment;

namespace Leakage.Tests;

/// <summary>Settings the training code cannot use are refused before any work, named as run settings.</summary>
public class SettingsValidationTests
{
    [Theory]
    [InlineData("robust.epochs=5", "Setting 'robust.epochs' = 5 must be at least 6 (the training radius ramps up over the first 5 epochs)")]
    [InlineData("standard.momentum=1", "Setting 'standard.momentum' = 1 must be below 1")]
    [InlineData("standard.batchSize=1", "Setting 'standard.batchSize' = 1 must be at least 2")]
    [InlineData("transfer.batchSize=1", "Setting 'transfer.batchSize' = 1 must be at least 2")]
    public void Values_the_trainers_would_reject_are_refused_up_front_naming_the_setting(string setting, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("quick"), [setting]));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_smallest_accepted_values_are_usable_by_the_trainers()
    {
        using var run = ExperimentRun.Open(SettingsOverrides.Apply(Profiles.Get("quick"), ["device=cpu", "robust.epochs=6", "standard.batchSize=2"]),
            "unused", Path.Combine(Path.GetTempPath(), "leakage-tests", Guid.NewGuid().ToString("N")[..12]));
        run.RobustOptions().Validate();
        try { Directory.Delete(run.OutDirectory, recursive: true); } catch (IOException) { }
    }
}
