using System.Text.Json.Nodes;
using Leakage.Experiment;
using Leakage.Tests.Support;
using Xunit;

namespace Leakage.Tests;

public class FidelityTests
{
    static RunResultsRecord Results(double[] normalisedGamma, string units = "normalised") => ResultsUpgrade.Read(Node(normalisedGamma, units));

    static JsonObject Node(double[] normalisedGamma, string units = "normalised")
    {
        var gamma = new JsonArray(normalisedGamma.Select(g => (JsonNode)g).ToArray());
        var other = new JsonArray(normalisedGamma.Select(g => (JsonNode)(-g)).ToArray());
        var robust = units == "normalised"
            ? new JsonObject { ["radiusUnits"] = "normalised", ["gamma"] = gamma, ["otherUnits"] = new JsonObject { ["radiusUnits"] = "pixel", ["gamma"] = other } }
            : new JsonObject { ["radiusUnits"] = "pixel", ["gamma"] = other, ["otherUnits"] = new JsonObject { ["radiusUnits"] = "normalised", ["gamma"] = gamma } };
        return new JsonObject
        {
            ["robustModel"] = robust,
            ["adversarial"] = new JsonObject { ["drand"] = new JsonObject { ["attackSuccess"] = 0.97 }, ["ddet"] = new JsonObject { ["attackSuccess"] = 0.96 } },
            ["transfer"] = new JsonObject { ["drand"] = 0.55, ["ddet"] = 0.30 },
        };
    }

    [Fact]
    public void The_run_rewrites_the_block_whenever_one_of_its_inputs_is_recorded_and_only_then()
    {
        using var dir = new TempDir();
        using var run = ExperimentRun.Open(Profiles.Get("quick") with { Device = "cpu" }, dir["no-data-needed"], dir.Path, new RunObserver(_ => { }));
        run.Results.Set("seconds.standardModel", 1.0);
        Assert.Null(run.Results.Record().Fidelity);
        run.Results.Set("adversarial.drand", new JsonObject { ["images"] = 10, ["attackSuccess"] = 0.9, ["targetEqualsLabel"] = 0.1, ["eps"] = 0.5, ["step"] = 0.1, ["steps"] = 10 });
        Assert.Equal(0.9, run.Results.Record().Fidelity?.AttackSuccess?.Drand);
        run.Results.Set("transfer.ddet", 0.3);
        var block = run.Results.Record().Fidelity!;
        Assert.Equal(0.3 - Published.TransferDDet.Value, block.TransferGap!.Ddet!.Value, 12);
        Assert.Equal(0.9, block.AttackSuccess!.Drand);
        Assert.True(Fidelity.DependsOn("robustModel.gamma") && Fidelity.DependsOn("transfer") && !Fidelity.DependsOn("transferDetails.drand") && !Fidelity.DependsOn("fidelity"));
    }

    [Fact]
    public void Goh_table_against_itself_has_no_gap_and_perfect_correlation()
    {
        var block = Fidelity.Compute(Results([.. Published.GohGamma]));
        Assert.Equal(0, block.GammaMaxAbsDiff!.Value, 12);
        Assert.Equal(1, block.GammaPearson!.Value, 12);
    }

    [Theory]
    [InlineData("normalised")]
    [InlineData("pixel")]
    public void Gamma_is_compared_in_normalised_units_whichever_units_the_run_uses(string units)
    {
        // An affine copy of Goh's table: r stays 1, the largest gap is the shift at the largest value.
        var shifted = Published.GohGamma.Select(g => 0.5 * g + 0.01).ToArray();
        var block = Fidelity.Compute(Results(shifted, units));
        Assert.Equal("normalised", block.GammaUnits);
        Assert.Equal(1, block.GammaPearson!.Value, 9);
        Assert.Equal(Published.GohGamma.Zip(shifted, (a, b) => Math.Abs(a - b)).Max(), block.GammaMaxAbsDiff!.Value, 12);
    }

    [Fact]
    public void Transfer_gap_is_ours_minus_table_1_and_attack_success_is_copied()
    {
        var block = Fidelity.Compute(Results([.. Published.GohGamma]));
        Assert.Equal(0.55 - 0.633, block.TransferGap!.Drand!.Value, 12);
        Assert.Equal(0.30 - 0.437, block.TransferGap!.Ddet!.Value, 12);
        Assert.Equal(0.97, block.AttackSuccess!.Drand!.Value);
        Assert.Equal(0.96, block.AttackSuccess!.Ddet!.Value);
    }

    [Fact]
    public void Missing_steps_leave_their_entries_out()
    {
        var block = Fidelity.Compute(ResultsUpgrade.Read(new JsonObject { ["transfer"] = new JsonObject { ["drand"] = 0.5 } }));
        Assert.Null(block.GammaMaxAbsDiff);
        Assert.Null(block.AttackSuccess);
        Assert.NotNull(block.TransferGap!.Drand);
        Assert.Null(block.TransferGap!.Ddet);
        // As results.json records it: the entries left out, not written as null.
        var json = ResultsJson.Node(block);
        Assert.Null(json["gammaMaxAbsDiff"]);
        Assert.Null(json["attackSuccess"]);
        Assert.NotNull(json["transferGap"]!["drand"]);
        Assert.False(json["transferGap"]!.AsObject().ContainsKey("ddet"));
    }
}
