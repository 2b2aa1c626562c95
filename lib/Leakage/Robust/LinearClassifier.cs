using Leakage.Attacks;
using System.Text.Json.Nodes;
using Leakage.IO;
using Leakage.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Leakage.Robust;

/// <summary>
/// A K-class linear classifier on raw pixels, <c>z = W x + b</c>, with x a flattened image in [0,1]
/// (no normalisation inside: its rows <c>w_i</c> are the features <c>f_i(x) = w_i^T x</c> that the
/// certificates and the leakage probe use). Accepts inputs N x C x H x W or N x D.
/// </summary>
public sealed class LinearClassifier : nn.Module<Tensor, Tensor>
{
    /// <summary>Artifact kind written to <c>metadata.json</c>.</summary>
    public const string ArtifactKind = "linear-classifier";
    // TorchSharp's own tensor format, which torch.load cannot read: hence not ".pt" (the export command writes PyTorch files).
    const string WeightFile = "weight.ts.bin", BiasFile = "bias.ts.bin";

    /// <summary>Weights W, shape K x D (one row per class).</summary>
    public readonly Parameter weight;
    /// <summary>Biases b, shape K.</summary>
    public readonly Parameter bias;

    /// <summary>A classifier with all-zero weights and biases (callers initialise), float32 unless <paramref name="dtype"/> says otherwise.</summary>
    public LinearClassifier(int classes = 10, long dimension = CifarNormalisation.Dimension, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base(nameof(LinearClassifier))
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Input dimension must be positive.");
        TorchNative.Ensure();
        weight = nn.Parameter(zeros(classes, dimension, dtype: dtype, device: device));
        bias = nn.Parameter(zeros(classes, dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>
    /// A classifier holding copies of <paramref name="w"/> (K x D) and <paramref name="b"/> (K), on the
    /// weights' device and in their dtype (float64 weights stay float64, for exact checks).
    /// </summary>
    public static LinearClassifier FromWeights(Tensor w, Tensor b)
    {
        if (w.dim() != 2) throw new ArgumentException($"Weights must be K x D, got shape [{string.Join(", ", w.shape)}].", nameof(w));
        if (b.dim() != 1 || b.shape[0] != w.shape[0])
            throw new ArgumentException($"Bias must have length {w.shape[0]} (one per class), got shape [{string.Join(", ", b.shape)}].", nameof(b));
        if (!w.is_floating_point()) throw new ArgumentException($"Weights must be floating point, got {w.dtype}.", nameof(w));
        var c = new LinearClassifier((int)w.shape[0], w.shape[1], w.device, w.dtype);
        using (no_grad())
        {
            c.weight.copy_(w);
            c.bias.copy_(b);
        }
        return c;
    }

    /// <summary>Number of classes K.</summary>
    public int Classes => (int)weight.shape[0];

    /// <summary>Input length D.</summary>
    public long Dimension => weight.shape[1];

    /// <summary>Logits N x K for images N x C x H x W (or N x D), in the weights' dtype.</summary>
    public override Tensor forward(Tensor x)
    {
        using var flat = Flatten(x, Dimension);
        return nn.functional.linear(flat, weight, bias);
    }

    /// <summary>Predicted class per input (N), evaluated without gradients.</summary>
    public Tensor Predict(Tensor x)
    {
        using var _ = no_grad();
        using var z = forward(x);
        return z.argmax(1);
    }

    /// <summary>A view of <paramref name="x"/> as N x D; throws if the sizes do not match.</summary>
    internal static Tensor Flatten(Tensor x, long dimension)
    {
        if (x.dim() < 2) throw new ArgumentException($"Expected a batch of inputs (N x ...), got shape [{string.Join(", ", x.shape)}].", nameof(x));
        var flat = x.dim() == 2 ? x.alias() : x.flatten(1);
        if (flat.shape[1] != dimension)
        {
            flat.Dispose();
            throw new ArgumentException($"Each input has {x.numel() / Math.Max(1, x.shape[0])} values but the classifier expects {dimension} (shape [{string.Join(", ", x.shape)}]).", nameof(x));
        }
        return flat;
    }

    /// <summary>
    /// Saves W and b to <paramref name="dir"/> and commits a <c>metadata.json</c> recording
    /// <paramref name="settings"/> (whatever made the classifier), checksums and <paramref name="extra"/>.
    /// </summary>
    public void Save(string dir, object settings, JsonObject? extra = null)
    {
        Directory.CreateDirectory(dir);
        TensorFile.Save(Path.Combine(dir, WeightFile), weight.detach());
        TensorFile.Save(Path.Combine(dir, BiasFile), bias.detach());
        Artifacts.Commit(dir, ArtifactKind, settings, [WeightFile, BiasFile], extra);
    }

    /// <summary>
    /// Loads a classifier saved with <see cref="Save"/> if <paramref name="dir"/> holds a complete,
    /// intact artifact made with exactly <paramref name="settings"/>; otherwise returns null and
    /// <paramref name="reason"/> says why (the caller retrains and logs it).
    /// </summary>
    public static LinearClassifier? TryLoad(string dir, object settings, out string reason, Device? device = null)
    {
        if (!Artifacts.TryValidate(dir, ArtifactKind, settings, out reason)) return null;
        if (!File.Exists(Path.Combine(dir, WeightFile)) || !File.Exists(Path.Combine(dir, BiasFile)))
        {
            // Older versions named these files weight.pt/bias.pt; such a folder is retrained (the caller logs why).
            reason = $"{dir} holds no {WeightFile}/{BiasFile} (written by an older version under other file names)";
            return null;
        }
        using var w = TensorFile.Load(Path.Combine(dir, WeightFile), device);
        using var b = TensorFile.Load(Path.Combine(dir, BiasFile), device);
        if (w.dim() != 2 || b.dim() != 1 || b.shape[0] != w.shape[0])
        {
            reason = $"{dir}: weight shape [{string.Join(", ", w.shape)}] and bias shape [{string.Join(", ", b.shape)}] do not form a linear classifier";
            return null;
        }
        return FromWeights(w, b);
    }
}
