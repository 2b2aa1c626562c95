#:project ../lib/Leakage.Reporting/Leakage.Reporting.csproj
// Strips outputs and execution counts from notebooks so that they are committed clean.
//   dotnet run tools/strip-notebook-outputs.cs                 (every .ipynb in notebooks/)
//   dotnet run tools/strip-notebook-outputs.cs -- a.ipynb dir/ (the given notebooks or folders)
// Exit code 0; prints the files it changed. With --check it changes nothing and exits 1 when a
// notebook has outputs (for CI or a pre-commit hook).
using Leakage.Reporting;

var check = args.Contains("--check");
var targets = args.Where(a => a != "--check").ToList();
if (targets.Count == 0)
    targets.Add(Path.Combine(Path.GetDirectoryName(AppContext.GetData("EntryPointFilePath") as string ?? ".") ?? ".", "..", "notebooks"));

var files = targets.SelectMany(Expand).ToList();

int dirty = 0;
foreach (var f in files)
{
    if (check)
    {
        if (NotebookCleaner.HasOutputs(f)) { dirty++; Console.WriteLine($"has outputs: {f}"); }
    }
    else if (NotebookCleaner.Strip(f)) Console.WriteLine($"stripped: {f}");
}
if (check && dirty > 0)
{
    Console.Error.WriteLine($"{dirty} notebook(s) have outputs; run: dotnet run tools/strip-notebook-outputs.cs");
    return 1;
}
return 0;

static IEnumerable<string> Expand(string target) =>
    Directory.Exists(target) ? Directory.EnumerateFiles(target, "*.ipynb").Order(StringComparer.Ordinal)
    : File.Exists(target) ? [target]
    : throw new FileNotFoundException($"No notebook or folder at {Path.GetFullPath(target)}.");
