using Leakage.Experiment;

namespace Leakage.Tests;

/// <summary>The step catalog: the one list of steps, results paths and published values.</summary>
public class StepCatalogTests
{
    [Fact]
    public void Every_step_has_a_unique_key_results_path_and_something_to_run()
    {
        Assert.Equal(StepCatalog.All.Count, StepCatalog.All.Select(s => s.Key).Distinct().Count());
        Assert.Equal(StepCatalog.All.Count, StepCatalog.All.Select(s => s.ResultsKey).Distinct().Count());
        Assert.All(StepCatalog.All, s => Assert.NotNull(s.Execute));
        Assert.Equal(["nonlinear", "radiusSweep", "released", "probeSeeds"], StepCatalog.Extensions.Select(s => s.Key));
        Assert.All(StepCatalog.Extensions, s => Assert.StartsWith("beyond.", s.ResultsKey));
    }

    [Fact]
    public void The_steps_a_run_takes_follow_its_extension_settings()
    {
        var quick = Profiles.Get("quick");
        Assert.Equal(["standardModel", "dRand", "dDet", "transferRand", "transferDet", "robustModel", "leakage"], StepCatalog.For(quick).Select(s => s.Key));
        var all = quick.WithExtensionsOn();
        Assert.Equal(["nonlinear", "radiusSweep", "probeSeeds"], StepCatalog.For(all).Skip(7).Select(s => s.Key));
    }

    [Fact]
    public void The_headline_numbers_carry_the_published_values_from_one_place()
    {
        var byKey = StepCatalog.Headlines.ToDictionary(h => h.Key);
        Assert.Same(Published.LeakageDRand, byKey["leakage.drand"].Value);
        Assert.Same(Published.LeakageDDet, byKey["leakage.ddet"].Value);
        Assert.Same(Published.TransferDRand, byKey["transfer.drand"].Value);
        Assert.Equal("23.5%", byKey["leakage.drand"].Published);
        Assert.Equal(">= 80%", byKey["robustModel.spec2"].Published);
        Assert.Equal(StepCatalog.Headlines.Concat(StepCatalog.ControlHeadlines), SeedStudy.Headlines);
        // Each headline lives in its step's section of results.json.
        foreach (var step in StepCatalog.All)
            Assert.All(step.Headlines, h => Assert.StartsWith(step.ResultsKey.Split('.')[0], h.Key));
    }
}
