using System.Collections.Immutable;
using Leakage.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Leakage.Tests;

/// <summary>LK0001 finds temporary TorchSharp Scalars in source, and accepts Scalars kept alive.</summary>
public class ImplicitScalarAnalyzerTests
{
    static ImmutableArray<Diagnostic> Analyze(string body)
    {
        var source = $$"""
            using TorchSharp;
            using static TorchSharp.torch;
            static class Snippet
            {
                static readonly Scalar Kept = 0.5.ToScalar();
                static Tensor Run(Tensor x, double eps)
                {
                    {{body}}
                }
            }
            """;
        var references = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location))
            .Select(a => MetadataReference.CreateFromFile(a.Location))
            .Append(MetadataReference.CreateFromFile(typeof(TorchSharp.torch).Assembly.Location));
        var compilation = CSharpCompilation.Create("Snippet", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "the snippet does not compile: " + string.Join("; ", errors));
        return compilation.WithAnalyzers([new ImplicitScalarAnalyzer()]).GetAnalyzerDiagnosticsAsync().Result;
    }

    [Theory]
    [InlineData("return x.lt(0.5);", "0.5")]                      // number converted to a Scalar argument
    [InlineData("return x.clamp(0, 1);", "0")]
    [InlineData("return x + 1e-10;", "1e-10")]                    // tensor operator with a number operand
    [InlineData("return eps * x;", "eps")]
    [InlineData("x *= eps; return x;", "eps")]                    // compound assignment
    [InlineData("return arange(10, dtype: ScalarType.Int64);", "10")]
    public void Temporaries_are_errors(string body, string operand)
    {
        var found = Analyze(body);
        var d = Assert.Single(found, d => d.GetMessage().StartsWith($"'{operand}'"));
        Assert.Equal(ImplicitScalarAnalyzer.Id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Theory]
    [InlineData("return x.lt(Kept);")]                              // a static Scalar
    [InlineData("using var e = eps.ToScalar(); return x * e;")]     // a using local, alive through the call
    [InlineData("return x + x;")]                                   // tensor with tensor
    [InlineData("return x.view(-1, 1);")]                           // numbers that are not Scalars
    public void Kept_scalars_and_plain_numbers_pass(string body) => Assert.Empty(Analyze(body));
}
