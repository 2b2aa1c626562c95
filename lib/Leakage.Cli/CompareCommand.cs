using System.CommandLine;
using Leakage.Experiment;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>compare REFERENCE OTHER</c>: two runs' results.json side by side (<see cref="RunComparison"/>),
/// every headline number with its difference and whether that is within noise; exits 1 when a
/// number is not, or when the compared run lacks one (an unfinished run), so a rerun on another
/// machine can be checked in a script.
/// </summary>
static class CompareCommand
{
    static readonly Argument<string> ReferenceArgument = new("reference") { Description = "results.json of the recorded run (or its run folder)." };
    static readonly Argument<string> OtherArgument = new("other") { Description = "results.json of the run to compare with it (or its run folder)." };
    static readonly Option<string?> SeedsOption = new("--seeds")
    {
        Description = "seeds.json of a seed study of the same profile: its standard deviations become the noise. Default: a seeds.json beside the reference (a recorded run's study), else the points each number is measured on.",
    };
    static readonly Option<string?> OutOption = new("--out")
    {
        Description = "Also write the comparison to this folder as comparison.json and comparison.md.",
    };

    public static Command Create()
    {
        var cmd = new Command("compare", "Compare two runs' results.json: each headline number, its difference and whether it is within noise (test points, or a seed study's spread); exit code 1 when one is not, or is missing from the compared run.");
        cmd.Arguments.Add(ReferenceArgument);
        cmd.Arguments.Add(OtherArgument);
        cmd.Options.Add(SeedsOption);
        cmd.Options.Add(OutOption);
        cmd.SetAction((parse, ct) => Cli.Guard(() =>
        {
            static string JsonOf(string path) => Directory.Exists(path) ? Path.Combine(path, ResultsFile.FileName) : path;
            var comparison = RunComparison.Compare(JsonOf(parse.GetValue(ReferenceArgument)!), JsonOf(parse.GetValue(OtherArgument)!), parse.GetValue(SeedsOption));
            var markdown = comparison.ToMarkdown();
            Console.Write(markdown);
            if (parse.GetValue(OutOption) is string dir)
            {
                Directory.CreateDirectory(dir);
                IO.AtomicFile.WriteAllText(Path.Combine(dir, "comparison.json"), comparison.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                IO.AtomicFile.WriteAllText(Path.Combine(dir, "comparison.md"), markdown);
            }
            AnsiConsole.MarkupLine(
                !comparison.AllWithinNoise ? "[red]Some headline numbers are not within noise.[/]"
                : !comparison.Complete ? (comparison.Rows.Count == 0
                    ? "[red]The compared run has none of the reference's headline numbers yet.[/]"
                    : $"[red]The compared run lacks {comparison.Missing.Count} of the reference's headline numbers; the {comparison.Rows.Count} it has are within noise.[/]")
                : "[green]Every headline number is within noise.[/]");
            return Task.FromResult(comparison.Agrees ? 0 : 1);
        }));
        return cmd;
    }
}
