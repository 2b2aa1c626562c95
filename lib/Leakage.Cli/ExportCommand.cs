using System.CommandLine;
using Leakage.Export;
using Spectre.Console;

namespace Leakage.Cli;

/// <summary>
/// <c>export</c>: writes a finished run's standard model, robust linear classifier and D_rand / D_det
/// as PyTorch files (<see cref="PyTorchExport"/>).
/// </summary>
static class ExportCommand
{
    static readonly Option<string> RunOption = new("--out")
    {
        Description = "The run folder to export (the --out of a finished experiment).",
        Required = true,
    };

    static readonly Option<string> ToOption = new("--to")
    {
        Description = "Folder to write the PyTorch files into (created if needed).",
        Required = true,
    };

    public static Command Create()
    {
        var cmd = new Command("export", "Write a finished run's standard model and C (state_dicts), and D_rand / D_det in the layout of Ilyas et al.'s release_datasets/, as files torch.load reads; tools/python/leakage_models.py holds the matching modules.");
        cmd.Options.Add(RunOption);
        cmd.Options.Add(ToOption);
        cmd.SetAction((parse, ct) => Cli.Guard(() =>
        {
            var run = parse.GetValue(RunOption)!;
            var to = parse.GetValue(ToOption)!;
            var result = PyTorchExport.Write(run, to, m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]"));
            AnsiConsole.MarkupLine($"Exported [green]{Markup.Escape(run)}[/] to [green]{Markup.Escape(to)}[/] ({result.Files.Count} files and {Leakage.IO.Artifacts.MetadataFile}).");
            AnsiConsole.MarkupLine($"In Python: [grey]python3 {PyTorchExport.CheckScript} {Markup.Escape(to)}[/]");
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
