using Leakage.Attacks;
using Leakage.Robust;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Tests;

public class RobustGeometryTests
{
    [Theory]
    [InlineData(RadiusUnits.Pixel)]
    [InlineData(RadiusUnits.Normalised)]
    public void Dual_norm_is_the_largest_change_of_a_linear_function_over_the_unit_ball(RadiusUnits units)
    {
        using var scope = NewDisposeScope();
        var geometry = RadiusGeometry.For(units);
        var g = new Generator(3);
        var v = randn([5, geometry.Dimension], dtype: ScalarType.Float64, generator: g);
        var dual = geometry.DualNorm(v);
        var best = geometry.WorstCaseDirection(v);
        Assert.True(geometry.PerturbationNorm(best).allclose(ones(5, dtype: ScalarType.Float64)));
        Assert.True((v * best).sum(1).allclose(dual), "the worst direction attains the dual norm");
        // No other point of the unit ball does better.
        var others = geometry.Project(randn([200, geometry.Dimension], dtype: ScalarType.Float64, generator: g), 1.0);
        var gains = v.matmul(others.t());
        Assert.True((gains.amax([1L]) <= dual).all().item<bool>());
        // Closed forms: ||v|| in pixels, ||s ⊙ v|| in normalised units.
        var s = tensor(geometry.Scale(), dtype: ScalarType.Float64);
        Assert.True(dual.allclose(linalg.vector_norm(v * s, dims: [1L])));
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel)]
    [InlineData(RadiusUnits.Normalised)]
    public void Pairwise_dual_norms_from_the_gram_matrix_match_direct_differences_and_have_finite_gradients(RadiusUnits units)
    {
        using var scope = NewDisposeScope();
        var geometry = RadiusGeometry.For(units);
        var w = randn([4, geometry.Dimension], dtype: ScalarType.Float64, generator: new Generator(4));
        w[3] = w[1]; // two identical rows: a zero distance off the diagonal
        w.requires_grad_(true);
        var pair = geometry.PairwiseDualNorms(w);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(geometry.DualNorm(w[i] - w[j]).item<double>(), pair[i, j].item<double>(), 1e-6);
        Assert.Equal(0.0, pair[1, 3].item<double>(), 6);
        pair.sum().backward();
        Assert.True(w.grad!.isfinite().all().item<bool>(), "gradients of the pairwise norms must be finite");
    }

    [Fact]
    public void Projection_leaves_points_inside_alone_and_pulls_others_to_the_surface()
    {
        using var scope = NewDisposeScope();
        var geometry = RadiusGeometry.CifarNormalised();
        var d = randn([6, geometry.Dimension], dtype: ScalarType.Float64, generator: new Generator(5));
        var norms = geometry.PerturbationNorm(d).data<double>().ToArray();
        var eps = norms.Order().ElementAt(3); // some rows inside, some outside
        var projected = geometry.Project(d, eps);
        var after = geometry.PerturbationNorm(projected).data<double>().ToArray();
        for (int i = 0; i < 6; i++)
        {
            if (norms[i] <= eps) Assert.True(projected[i].eq(d[i]).all().item<bool>());
            else Assert.Equal(eps, after[i], 9);
        }
    }

    [Fact]
    public void Normalised_units_are_defined_only_for_cifar_sized_inputs()
    {
        var e = Assert.Throws<ArgumentException>(() => RadiusGeometry.For(RadiusUnits.Normalised, 100));
        Assert.Contains("3072", e.Message);
        Assert.Equal(CifarNormalisation.Std[2], RadiusGeometry.CifarNormalised().Scale()[2 * 1024 + 5]);
        Assert.Equal(CifarNormalisation.Std[0], RadiusGeometry.CifarNormalised().Scale()[1023]);
        Assert.All(RadiusGeometry.Pixel(10).Scale(), v => Assert.Equal(1.0, v));
    }

    [Theory]
    [InlineData(RadiusUnits.Pixel, PgdObjective.CrossEntropy)]
    [InlineData(RadiusUnits.Normalised, PgdObjective.Margin)]
    public void Linear_pgd_stays_inside_the_ball_and_the_unit_box_and_raises_its_objective(RadiusUnits units, PgdObjective objective)
    {
        using var scope = NewDisposeScope();
        var means = RobustTestData.Means(10, seed: 2);
        var (x, y) = RobustTestData.Blobs(means, 100, 0.3, seed: 3);
        using var model = RobustTestData.NearestMean(means);
        var geometry = RadiusGeometry.For(units);
        const double eps = 0.5;
        var adv = LinearPgd.Attack(model, x, y, geometry, new LinearPgdOptions(eps, Steps: 10, Restarts: 1, Objective: objective));
        Assert.Equal(x.shape, adv.shape);
        Assert.True(geometry.PerturbationNorm((adv - x).flatten(1)).max().item<double>() <= eps * (1 + 1e-9));
        Assert.True(adv.min().item<double>() >= 0 && adv.max().item<double>() <= 1);
        var onehot = nn.functional.one_hot(y, 10).to(ScalarType.Float64);
        using (no_grad())
        {
            var before = nn.functional.cross_entropy(model.forward(x), y, reduction: nn.Reduction.None);
            var after = nn.functional.cross_entropy(model.forward(adv), y, reduction: nn.Reduction.None);
            Assert.True((after >= before - 1e-9).all().item<bool>(), "the best point found is never worse than the start");
            Assert.True(after.mean().item<double>() > before.mean().item<double>());
        }
    }
}
