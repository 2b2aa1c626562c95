using Leakage.Experiment;

namespace Leakage.Tests;

public class SettingsTests
{
    [Fact]
    public void An_unknown_profile_lists_the_valid_profiles()
    {
        var e = Assert.Throws<ArgumentException>(() => Profiles.Get("huge"));
        Assert.Contains("quick, cpu, paper", e.Message);
    }

    [Fact]
    public void Overrides_change_exactly_the_named_settings()
    {
        var s = SettingsOverrides.Apply(Profiles.Get("quick"), ["attack.steps=7", "robust.units=normalised", "seed=3", "transfer.augment=true", "beyond.sweepRadii=0.1,0.5"]);
        Assert.Equal(7, s.Attack.Steps);
        Assert.Equal("normalised", s.Robust.Units);
        Assert.Equal(3, s.Seed);
        Assert.True(s.Transfer.Augment);
        Assert.Equal([0.1, 0.5], s.Beyond.SweepRadii);
        Assert.Equal(Profiles.Get("quick") with { Seed = 3, Attack = s.Attack, Robust = s.Robust, Transfer = s.Transfer, Beyond = s.Beyond }, s);
    }

    [Fact]
    public void An_unknown_setting_lists_the_valid_ones_of_its_section()
    {
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("quick"), ["attack.stepz=3"]));
        Assert.Contains("attack.stepz", e.Message);
        Assert.Contains("attack.steps", e.Message);
        Assert.Contains("attack.eps", e.Message);
    }

    [Theory]
    [InlineData("robust.units=meters", "pixel, normalised")]
    [InlineData("standard.arch=vgg", "small-cnn, resnet18")]
    [InlineData("device=tpu", "auto, cpu, cuda")]
    [InlineData("attack.eps=-1", "must be positive")]
    [InlineData("attack.steps=abc", "not a number")]
    [InlineData("attack.steps=2.5", "attack.steps")]
    [InlineData("transfer.augment=maybe", "true or false")]
    [InlineData("attack", "section.name=value")]
    public void A_bad_setting_value_is_refused_with_what_it_accepts(string setting, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("cpu"), [setting]));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Environment_style_overrides_accept_semicolons_or_json()
    {
        Assert.Equal(["a.b=1", "c=2"], SettingsOverrides.Parse(" a.b=1; c=2 "));
        Assert.Equal(["attack.steps=3", "robust.units=pixel"], SettingsOverrides.Parse("""{"attack.steps": 3, "robust.units": "pixel"}"""));
    }

    [Fact]
    public void Every_profile_is_valid()
    {
        foreach (var p in Profiles.Names) SettingsOverrides.Validate(Profiles.Get(p));
    }
}
