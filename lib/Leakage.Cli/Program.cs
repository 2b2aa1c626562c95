using System.CommandLine;
using Leakage.Cli;

return await Cli.RunAsync(args);
