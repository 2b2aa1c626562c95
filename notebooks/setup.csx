// The helper library every notebook loads (#load "setup.csx"): Leakage.Interactive and the
// assemblies whose types the notebooks name. This is the one place that says where the build is;
// setup-check.csx reads these lines to say what to do when it is missing.
#r "../lib/Leakage.Interactive/bin/Release/net10.0/Leakage.dll"
#r "../lib/Leakage.Interactive/bin/Release/net10.0/Leakage.Interactive.dll"
#r "../lib/Leakage.Interactive/bin/Release/net10.0/TorchSharp.dll"
#r "../lib/Leakage.Interactive/bin/Release/net10.0/Plotly.NET.dll"
#r "../lib/Leakage.Interactive/bin/Release/net10.0/Microsoft.Data.Analysis.dll"
