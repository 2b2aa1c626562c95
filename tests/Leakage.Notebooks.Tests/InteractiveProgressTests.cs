using Leakage.Interactive;

namespace Leakage.Notebooks.Tests;

public class InteractiveProgressTests
{
    /// <summary>A clock that moves only when told.</summary>
    sealed class ManualClock : TimeProvider
    {
        long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    [Fact]
    public void Progress_renders_the_first_report_then_at_most_one_per_interval_and_always_the_last()
    {
        var clock = new ManualClock();
        var rendered = new List<string>();
        var p = new NotebookProgress<int>(h => rendered.Add(h.Markup), i => new ProgressView(i / 100.0, $"step {i}"),
            TimeSpan.FromSeconds(1), clock);

        p.Report(0);                                 // first: rendered
        for (int i = 1; i < 10; i++) p.Report(i);    // same instant: held back
        clock.Advance(TimeSpan.FromSeconds(1));
        p.Report(10);                                // interval passed: rendered
        p.Report(11);                                // held back
        p.Report(100);                               // complete: rendered

        Assert.Equal(3, p.Renders);
        Assert.Contains("step 0", rendered[0]);
        Assert.Contains("step 10", rendered[1]);
        Assert.Contains("step 100", rendered[2]);
        Assert.Contains("100.0%", rendered[2]);
    }

    [Fact]
    public void Flush_renders_the_latest_report_that_was_held_back_and_nothing_twice()
    {
        var clock = new ManualClock();
        var rendered = new List<string>();
        var p = new NotebookProgress<int>(h => rendered.Add(h.Markup), i => new ProgressView(i / 10.0, $"step {i}"), TimeSpan.FromMinutes(1), clock);
        p.Report(1);
        p.Report(2);
        p.Report(3);
        p.Flush();
        p.Flush();
        Assert.Equal(2, rendered.Count);
        Assert.Contains("step 3", rendered[1]);
    }

    [Fact]
    public void Updates_of_one_bar_share_an_id_that_the_report_uses_to_keep_the_last()
    {
        var rendered = new List<string>();
        var p = new NotebookProgress<double>(h => rendered.Add(h.Markup), f => new ProgressView(f, "x", "<detail>"), TimeSpan.Zero);
        p.Report(0.25);
        p.Report(0.5);
        var ids = rendered.Select(r => System.Text.RegularExpressions.Regex.Match(r, $"{ProgressBar.IdAttribute}=\"([^\"]+)\"").Groups[1].Value).ToList();
        Assert.Equal(2, ids.Count);
        Assert.Equal(ids[0], ids[1]);
        Assert.NotEmpty(ids[0]);
        Assert.Contains("&lt;detail&gt;", rendered[1]);
        Assert.Contains("value=\"0.5\"", rendered[1]);
    }

    [Fact]
    public void Fractions_outside_zero_to_one_are_clamped()
    {
        Assert.Contains("value=\"1\"", ProgressBar.Render(new ProgressView(3, "x"), "a").Markup);
        Assert.Contains("value=\"0\"", ProgressBar.Render(new ProgressView(double.NaN, "x"), "a").Markup);
    }
}
