using System.Text.RegularExpressions;
using Leakage.Experiment;
using Leakage.Interactive;

namespace Leakage.Notebooks.Tests;

public class RunProgressTests
{
    sealed class ManualClock : TimeProvider
    {
        long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    static int Ids(string html) => Regex.Matches(html, ProgressBar.IdAttribute + "=\"").Count;

    [Fact]
    public void A_tracked_step_renders_a_bar_per_step_and_its_log_lines_and_returns_the_result()
    {
        var progress = new RunProgress(TimeSpan.Zero);
        IRunObserver observer = progress;
        var rendered = new List<string>();
        var result = progress.Track(h => rendered.Add(h.Markup), () =>
        {
            observer.Log("Standard model: reusing <folder>.");
            observer.Progress(new StepProgress("standardModel", 1, "epoch 8/8"));
            observer.Progress(new StepProgress("dRand", 0.5, "chunk 1/2"));
            return 42;
        });

        Assert.Equal(42, result);
        var last = rendered[^1];
        Assert.Contains("standard model", last);
        Assert.Contains("D_rand (targeted PGD)", last);
        Assert.Contains("epoch 8/8", last);
        Assert.Contains("chunk 1/2", last);
        Assert.Contains("Standard model: reusing &lt;folder&gt;.", last); // encoded
        Assert.True(last.IndexOf("standard model", StringComparison.Ordinal) < last.IndexOf("D_rand", StringComparison.Ordinal), "bars in the order the steps started");
        // The panel's own id comes first, so the report keeps only the panel's last update.
        var panelId = Regex.Match(last, ProgressBar.IdAttribute + "=\"([^\"]+)\"").Groups[1].Value;
        Assert.StartsWith($"<div class=\"leakage-run\" {ProgressBar.IdAttribute}=\"{panelId}\"", last);
        Assert.All(rendered, r => Assert.Contains(panelId, r));
        Assert.Equal(["Standard model: reusing <folder>."], progress.Messages);
    }

    [Fact]
    public void A_step_without_progress_still_shows_its_log_lines_once_it_returns()
    {
        var progress = new RunProgress(TimeSpan.FromHours(1), new ManualClock());
        var rendered = new List<string>();
        progress.Track(h => rendered.Add(h.Markup), () => { ((IRunObserver)progress).Log("first"); ((IRunObserver)progress).Log("second"); return 0; });
        Assert.Contains("second", rendered[^1]);
        Assert.Equal(1, Ids(rendered[^1]));
    }

    [Fact]
    public void Renders_are_throttled_but_the_final_state_is_always_shown()
    {
        var clock = new ManualClock();
        var progress = new RunProgress(TimeSpan.FromSeconds(10), clock);
        IRunObserver observer = progress;
        var rendered = new List<string>();
        progress.Track(h => rendered.Add(h.Markup), () =>
        {
            for (int i = 1; i <= 50; i++) observer.Progress(new StepProgress("standardModel", i / 100.0, $"step {i}"));
            clock.Advance(TimeSpan.FromSeconds(11));
            observer.Progress(new StepProgress("standardModel", 0.6, "step 60"));
            observer.Progress(new StepProgress("standardModel", 0.7, "step 70"));
            return 0;
        });
        Assert.Equal(3, rendered.Count); // first report, one after the interval, the final flush
        Assert.Contains("step 1<", rendered[0]);
        Assert.Contains("step 60", rendered[1]);
        Assert.Contains("step 70", rendered[2]);
    }

    [Fact]
    public void A_failing_step_shows_its_last_state_and_the_exception_reaches_the_cell()
    {
        var progress = new RunProgress(TimeSpan.Zero);
        var rendered = new List<string>();
        var e = Assert.Throws<InvalidOperationException>(() => progress.Track<int>(h => rendered.Add(h.Markup), () =>
        {
            ((IRunObserver)progress).Progress(new StepProgress("robustModel", 0.3, "epoch 3/10"));
            throw new InvalidOperationException("diverged");
        }));
        Assert.Equal("diverged", e.Message);
        Assert.Contains("failed", rendered[^1]);
        Assert.Contains("epoch 3/10", rendered[^1]);
        // The observer is free again.
        Assert.Equal(1, progress.Track(_ => { }, () => 1));
    }

    [Fact]
    public void Steps_are_tracked_one_at_a_time_and_reports_outside_a_step_are_only_logged()
    {
        var progress = new RunProgress(TimeSpan.Zero);
        ((IRunObserver)progress).Progress(new StepProgress("dDet", 0.5, "outside"));
        ((IRunObserver)progress).Log("opened");
        var e = Assert.Throws<InvalidOperationException>(() => progress.Track(_ => { }, () => progress.Track(_ => { }, () => 0)));
        Assert.Contains("one step at a time", e.Message);
        Assert.Contains("opened", progress.RecentMessages().Markup);
    }
}
