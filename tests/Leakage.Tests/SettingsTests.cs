using Leakage.Attacks;
using Leakage.Experiment;

namespace Leakage.Tests;

public class SettingsTests
{
    [Fact]
    public void The_transfer_network_is_transfer_arch_at_its_width_else_the_standard_models()
    {
        Assert.Equal(("airbench", 32), TransferStep.Network(Profiles.Get("cpu")));
        Assert.Equal(("small-cnn", 24), TransferStep.Network(Profiles.Get("cpu-small")));
        var named = SettingsOverrides.Apply(Profiles.Get("cpu-small"), ["transfer.arch=resnet9"]);
        Assert.Equal(("resnet9", Leakage.Models.ResNet9.DefaultWidth), TransferStep.Network(named)); // width 0: the architecture's default
    }

    [Fact]
    public void An_unknown_profile_lists_the_valid_profiles()
    {
        var e = Assert.Throws<ArgumentException>(() => Profiles.Get("huge"));
        Assert.Contains("quick, cpu, cpu-small, paper", e.Message);
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
    [InlineData("standard.arch=vgg", "small-cnn, resnet18, airbench, resnet9")]
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
    public void Set_and_the_environment_variable_share_one_syntax_lists_in_brackets_and_json_nested_or_dotted()
    {
        var fromList = SettingsOverrides.Parse("attack.steps=3; robust.units=pixel, beyond.sweepRadii=[0.1,0.5]\nseed=7", "LEAKAGE_SETTINGS");
        Assert.Equal(["attack.steps=3", "robust.units=pixel", "beyond.sweepRadii=[0.1,0.5]", "seed=7"], fromList);
        var fromJson = SettingsOverrides.Parse("""{"attack": {"steps": 3}, "robust.units": "pixel", "beyond": {"sweepRadii": [0.1,0.5]}, "seed": 7}""");
        Assert.Equal(fromList, fromJson);
        var quick = Profiles.Get("quick");
        var s = SettingsOverrides.Apply(quick, fromList);
        Assert.Equal((3, "pixel", 7L), (s.Attack.Steps, s.Robust.Units, s.Seed));
        Assert.Equal([0.1, 0.5], s.Beyond.SweepRadii);
        Assert.Equal(s.Beyond.SweepRadii, SettingsOverrides.Apply(quick, ["beyond.sweepRadii=0.1,0.5"]).Beyond.SweepRadii); // one --set: brackets optional
        Assert.Contains("LEAKAGE_SETTINGS", Assert.Throws<ArgumentException>(() => SettingsOverrides.Parse("a=1;a=2", "LEAKAGE_SETTINGS")).Message);
        Assert.Contains("not of the form key=value", Assert.Throws<ArgumentException>(() => SettingsOverrides.Parse("attack.steps")).Message);
    }

    [Theory]
    [InlineData("robust.units=pixels", "pixel, normalised")]
    [InlineData("robust.units=0", "pixel, normalised")]
    [InlineData("standard.schedule=1", "onecycle, cosine, airbench")]
    [InlineData("standard.arch=resnet50", "small-cnn, resnet18, airbench, resnet9")]
    [InlineData("compute.precision=fp16", "auto, fp32, bf16")]
    [InlineData("device=tpu", "auto, cpu, cuda")]
    public void A_choice_is_parsed_strictly_and_the_error_names_the_setting_and_lists_the_valid_values(string setting, string valid)
    {
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("quick"), [setting]));
        Assert.Contains($"'{setting[..setting.IndexOf('=')]}'", e.Message);
        Assert.Contains($"Valid choices: {valid}.", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void A_choice_is_stored_under_its_canonical_name_and_maps_to_the_library_value()
    {
        var s = SettingsOverrides.Apply(Profiles.Get("quick"), ["robust.units=PIXEL", "standard.schedule=Cosine", "compute.precision=BF16", "device=CPU"]);
        Assert.Equal(("pixel", "cosine", "bf16", "cpu"), (s.Robust.Units, s.Standard.Schedule, s.Compute.Precision, s.Device));
        Assert.Equal(Leakage.Attacks.RadiusUnits.Pixel, s.Robust.RadiusUnits);
        Assert.Equal(Leakage.Training.LrSchedule.Cosine, s.Standard.LrSchedule);
        Assert.Equal(Leakage.Compute.Precision.Bf16, s.Compute.PrecisionKind);
        Assert.Equal(Leakage.Compute.DeviceKind.Cpu, s.DeviceKind);
        Assert.Equal(Leakage.Attacks.RadiusUnits.Normalised, ExperimentRun.ParseUnits("normalised"));
        Assert.Contains("Valid choices: pixel, normalised.", Assert.Throws<ArgumentException>(() => ExperimentRun.ParseUnits("normalized")).Message);
    }

    [Fact]
    public void A_seed_beyond_32_bits_is_refused_rather_than_truncated()
    {
        var e = Assert.Throws<ArgumentException>(() => SettingsOverrides.Apply(Profiles.Get("quick"), ["seed=4294967296"]));
        Assert.Contains("'seed'", e.Message);
        Assert.Equal(int.MaxValue, SettingsOverrides.Apply(Profiles.Get("quick"), [$"seed={int.MaxValue}"]).IntSeed);
    }

    [Fact]
    public void The_probe_iterations_have_one_default()
    {
        Assert.Equal(new Leakage.Probes.LogisticProbeOptions().MaxIterations, new ExperimentSettings().Probe.MaxIterations);
        Assert.Equal(new Leakage.Probes.LogisticProbeOptions().L2, new ExperimentSettings().Probe.L2);
    }

    [Fact]
    public void Every_profile_is_valid()
    {
        foreach (var p in Profiles.Names) SettingsOverrides.Validate(Profiles.Get(p));
    }
}
