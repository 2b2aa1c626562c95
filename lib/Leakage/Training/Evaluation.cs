using Leakage.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Training;

/// <summary>
/// Batched inference: the model in eval mode (batch norm uses its running statistics), under
/// <c>torch.no_grad()</c>, one dispose scope per batch. The model's previous train/eval mode is restored.
/// </summary>
public static class Evaluation
{
    /// <summary>Fraction of <paramref name="images"/> whose predicted class equals <paramref name="labels"/>, in [0, 1].</summary>
    /// <param name="model">Classifier on <paramref name="device"/>.</param>
    /// <param name="images">float32 N x 3 x H x W in [0, 1], any device (batches are moved to <paramref name="device"/>).</param>
    /// <param name="labels">int64 N.</param>
    /// <param name="device">Where the model is.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    public static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, Device device, int batchSize = 500)
    {
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"Evaluation: {images.shape[0]} images but labels of shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        if (images.shape[0] == 0) throw new ArgumentException("Evaluation: no images.", nameof(images));
        using var predicted = Predict(model, images, device, batchSize);
        using var labelsCpu = labels.cpu();
        return predicted.eq(labelsCpu).sum().item<long>() / (double)images.shape[0];
    }

    /// <summary>Predicted classes (argmax of the logits), int64 N on the CPU.</summary>
    public static Tensor Predict(nn.Module<Tensor, Tensor> model, Tensor images, Device device, int batchSize = 500)
    {
        using var logits = Logits(model, images, device, batchSize);
        return logits.argmax(1);
    }

    /// <summary>Logits, float32 N x classes on the CPU.</summary>
    public static Tensor Logits(nn.Module<Tensor, Tensor> model, Tensor images, Device device, int batchSize = 500) =>
        Map(model, images, device, batchSize, model.forward);

    /// <summary>
    /// Penultimate-layer features of a <see cref="Models.IFeatureModel"/>, float32 N x F on the CPU
    /// (eval mode, no_grad, batched like <see cref="Logits"/>).
    /// </summary>
    public static Tensor Features(nn.Module<Tensor, Tensor> model, Tensor images, Device device, int batchSize = 500) =>
        model is Models.IFeatureModel f
            ? Map(model, images, device, batchSize, f.Features)
            : throw new ArgumentException($"{model.GetType().Name} does not expose penultimate features (it is not an IFeatureModel).", nameof(model));

    static Tensor Map(nn.Module<Tensor, Tensor> model, Tensor images, Device device, int batchSize, Func<Tensor, Tensor> map)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(model);
        if (images.dim() != 4) throw new ArgumentException($"Evaluation expects N x C x H x W images, got [{string.Join(", ", images.shape)}].", nameof(images));
        if (images.shape[0] == 0) throw new ArgumentException("Evaluation: no images.", nameof(images));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be at least 1");
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            long n = images.shape[0];
            var parts = new List<Tensor>();
            try
            {
                for (long start = 0; start < n; start += batchSize)
                {
                    using var scope = NewDisposeScope();
                    var x = images.narrow(0, start, Math.Min(batchSize, n - start)).to(device);
                    parts.Add(map(x).cpu().MoveToOuterDisposeScope());
                }
                return parts.Count == 1 ? parts[0].alias() : cat(parts, 0);
            }
            finally
            {
                foreach (var p in parts) p.Dispose();
            }
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
