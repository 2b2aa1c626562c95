using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Leakage.Analyzers;

/// <summary>
/// LK0001: a number converted implicitly to a TorchSharp <c>Scalar</c>. TorchSharp 0.107's Scalar owns a
/// native c10::Scalar through a bare IntPtr and frees it in its finalizer; a temporary is unreachable
/// once its handle has been read, so a garbage collection on another thread can free it while libtorch
/// is still reading it ("Expected false to be true", "Unknown scalar type", or a wrong value). Scalars
/// must be created explicitly and kept alive across the call (a <c>using</c> local, or a static field).
/// The same holds for TorchSharp's tensor operators with a number operand (<c>x + 1e-10</c>, <c>2 * x</c>):
/// they convert the number to a Scalar inside and drop it the same way.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ImplicitScalarAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "LK0001";

    static readonly DiagnosticDescriptor Rule = new(Id,
        "Implicit TorchSharp Scalar",
        "'{0}' becomes a temporary TorchSharp Scalar that the garbage collector may free during the native call: create it with ToScalar() in a using local or a static field",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true,
        helpLinkUri: "https://github.com/dotnet/TorchSharp/pull/1434");

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterOperationAction(Check, OperationKind.Conversion);
        context.RegisterOperationAction(CheckOperator, OperationKind.Binary, OperationKind.CompoundAssignment);
    }

    static bool IsTorchSharp(ITypeSymbol? type, string name) =>
        type is { } t && t.Name == name && t.ContainingNamespace is { Name: "TorchSharp", ContainingNamespace.IsGlobalNamespace: true }
        || type?.ContainingType is { } outer && outer.Name == "torch" && type.Name == name && outer.ContainingNamespace is { Name: "TorchSharp" };

    static bool IsNumber(ITypeSymbol? type) => type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64
        or SpecialType.System_Single or SpecialType.System_Double;

    static void CheckOperator(OperationAnalysisContext context)
    {
        var (method, left, right) = context.Operation switch
        {
            IBinaryOperation b => (b.OperatorMethod, b.LeftOperand, b.RightOperand),
            ICompoundAssignmentOperation c => (c.OperatorMethod, c.Target, c.Value),
            _ => (null, null, null),
        };
        if (method is null || !IsTorchSharp(method.ContainingType, "Tensor")) return;
        var number = method.Parameters.Length == 2 && IsNumber(method.Parameters[0].Type) ? left
            : method.Parameters.Length == 2 && IsNumber(method.Parameters[1].Type) ? right : null;
        if (number != null)
            context.ReportDiagnostic(Diagnostic.Create(Rule, number.Syntax.GetLocation(), number.Syntax.ToString()));
    }

    static void Check(OperationAnalysisContext context)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (conversion.IsImplicit && conversion.OperatorMethod is { } op && op.ContainingType is
            { Name: "Scalar", ContainingNamespace: { Name: "TorchSharp", ContainingNamespace.IsGlobalNamespace: true } })
            context.ReportDiagnostic(Diagnostic.Create(Rule, conversion.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
    }
}
