// The first code cell of every notebook (#load "setup-check.csx"): stops with a message that says
// what to do when the helper library that setup.csx references is not built. (A missing #r file
// would only give compiler errors, and no cell of the notebook can run without it.)
var leakageMissing = System.IO.File.ReadLines("setup.csx")
    .Where(line => line.StartsWith("#r \"", StringComparison.Ordinal))
    .Select(line => System.IO.Path.GetFullPath(line[4..line.LastIndexOf('"')]))
    .Where(dll => !System.IO.File.Exists(dll))
    .ToList();
if (leakageMissing.Count > 0)
    throw new System.IO.FileNotFoundException(
        $"The notebook helpers are not built ({System.IO.Path.GetDirectoryName(leakageMissing[0])}). " +
        "Run 'dotnet build -c Release' in the repository root, then run this notebook again.");
