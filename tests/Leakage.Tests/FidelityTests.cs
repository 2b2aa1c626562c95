using System.Text.Json.Nodes;
using Leakage.Experiment;
using Xunit;

namespace Leakage.Tests;

public class FidelityTests
{
    static JsonObject Results(double[] normalisedGamma, string units = "normalised")
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
    public void Goh_table_against_itself_has_no_gap_and_perfect_correlation()
    {
        var block = Fidelity.Compute(Results([.. Published.GohGamma]));
        Assert.Equal(0, (double)block["gammaMaxAbsDiff"]!, 12);
        Assert.Equal(1, (double)block["gammaPearson"]!, 12);
    }

    [Theory]
    [InlineData("normalised")]
    [InlineData("pixel")]
    public void Gamma_is_compared_in_normalised_units_whichever_units_the_run_uses(string units)
    {
        // An affine copy of Goh's table: r stays 1, the largest gap is the shift at the largest value.
        var shifted = Published.GohGamma.Select(g => 0.5 * g + 0.01).ToArray();
        var block = Fidelity.Compute(Results(shifted, units));
        Assert.Equal("normalised", (string)block["gammaUnits"]!);
        Assert.Equal(1, (double)block["gammaPearson"]!, 9);
        Assert.Equal(Published.GohGamma.Zip(shifted, (a, b) => Math.Abs(a - b)).Max(), (double)block["gammaMaxAbsDiff"]!, 12);
    }

    [Fact]
    public void Transfer_gap_is_ours_minus_table_1_and_attack_success_is_copied()
    {
        var block = Fidelity.Compute(Results([.. Published.GohGamma]));
        Assert.Equal(0.55 - 0.633, (double)block["transferGap"]!["drand"]!, 12);
        Assert.Equal(0.30 - 0.437, (double)block["transferGap"]!["ddet"]!, 12);
        Assert.Equal(0.97, (double)block["attackSuccess"]!["drand"]!);
        Assert.Equal(0.96, (double)block["attackSuccess"]!["ddet"]!);
    }

    [Fact]
    public void Missing_steps_leave_their_entries_out()
    {
        var block = Fidelity.Compute(new JsonObject { ["transfer"] = new JsonObject { ["drand"] = 0.5 } });
        Assert.Null(block["gammaMaxAbsDiff"]);
        Assert.Null(block["attackSuccess"]);
        Assert.NotNull(block["transferGap"]!["drand"]);
        Assert.Null(block["transferGap"]!["ddet"]);
    }
}
