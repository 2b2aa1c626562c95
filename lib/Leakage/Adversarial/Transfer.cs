using System.Diagnostics;
using Leakage.Models;
using Leakage.Native;
using Leakage.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Leakage.Adversarial;

/// <summary>
/// Settings for training a fresh classifier on an adversarial data set (Ilyas et al. Table 1).
/// Learning rate and augmentation are plain options of <see cref="Training"/>; see
/// <see cref="Recommended"/> for the values reproductions found to work.
/// </summary>
public sealed record TransferOptions
{
    /// <summary>Architecture of the fresh model (<see cref="ModelFactory.Architectures"/>).</summary>
    public string Arch { get; init; } = ModelFactory.SmallCnnArch;

    /// <summary>Base width, or null for the architecture's default.</summary>
    public int? Width { get; init; }

    /// <summary>Seed of the fresh model's initial weights.</summary>
    public long ModelSeed { get; init; }

    /// <summary>Optimiser, schedule, augmentation and data-order seed.</summary>
    public TrainingOptions Training { get; init; } = new();

    /// <summary>
    /// Starting points from public reproductions: D_rand trains better with a lower learning rate
    /// (0.01 rather than 0.1), and D_det is hurt by heavy augmentation (random crops move the
    /// pixel-aligned perturbation; flips are kept for D_rand only). Both keep the generated images as
    /// floats. These are defaults to start from, not tuned values.
    /// </summary>
    public static TransferOptions Recommended(AdversarialKind kind, TrainingOptions? baseline = null)
    {
        var t = baseline ?? new TrainingOptions();
        return new TransferOptions
        {
            Training = kind == AdversarialKind.Random
                ? t with { LearningRate = 0.01, Augmentation = Augmentation.Flip }
                : t with { LearningRate = 0.01, Augmentation = Augmentation.None },
        };
    }
}

/// <summary>Outcome of <see cref="Transfer.Run(AdversarialDataset, Tensor, Tensor, TransferOptions, Device, string?, IProgress{TrainingProgress}?, Action{string}?, CancellationToken)"/>.</summary>
/// <param name="Model">The trained classifier (eval mode, on the training device); the caller owns it.</param>
/// <param name="CleanTestAccuracy">Accuracy on the clean test set with its true labels, in [0, 1] (Ilyas Table 1).</param>
/// <param name="TrainAccuracy">Accuracy on the adversarial training images w.r.t. their target labels, in [0, 1].</param>
/// <param name="Training">The training run's history.</param>
public sealed record TransferResult(nn.Module<Tensor, Tensor> Model, double CleanTestAccuracy, double TrainAccuracy, TrainingResult Training);

/// <summary>
/// Trains a fresh model on adversarial images labelled with their targets and measures it on the
/// clean test set: the transfer experiment of Ilyas et al. (Table 1: D_rand 63.3%, D_det 43.7% with a
/// ResNet-50). Clean accuracy well above 10% means the relabelled set carries features that generalise.
/// </summary>
public static class Transfer
{
    /// <summary>Trains on <paramref name="data"/> (images with their target labels) and evaluates on the clean test set.</summary>
    /// <param name="data">An adversarial data set.</param>
    /// <param name="testImages">Clean test images, float32 N x 3 x 32 x 32 in [0, 1].</param>
    /// <param name="testLabels">Their true labels, int64 N.</param>
    /// <param name="options">Model and training settings.</param>
    /// <param name="device">Where to train.</param>
    /// <param name="checkpointDir">Per-epoch checkpoints (resumable), or null.</param>
    /// <param name="progress">Training progress.</param>
    /// <param name="log">Messages about checkpoints.</param>
    /// <param name="cancellationToken">Interrupts training between batches.</param>
    public static TransferResult Run(AdversarialDataset data, Tensor testImages, Tensor testLabels, TransferOptions options, Device device,
        string? checkpointDir = null, IProgress<TrainingProgress>? progress = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Run(data.Images, data.Targets, testImages, testLabels, options, device, checkpointDir, progress, log, cancellationToken);
    }

    /// <summary>Trains on (<paramref name="images"/>, <paramref name="targets"/>) and evaluates on the clean test set.</summary>
    /// <param name="images">Training images, float32 N x 3 x 32 x 32 in [0, 1].</param>
    /// <param name="targets">Training labels (the adversarial targets), int64 N.</param>
    /// <param name="testImages">Clean test images.</param>
    /// <param name="testLabels">Their true labels.</param>
    /// <param name="options">Model and training settings.</param>
    /// <param name="device">Where to train.</param>
    /// <param name="checkpointDir">Per-epoch checkpoints (resumable), or null.</param>
    /// <param name="progress">Training progress.</param>
    /// <param name="log">Messages about checkpoints.</param>
    /// <param name="cancellationToken">Interrupts training between batches.</param>
    public static TransferResult Run(Tensor images, Tensor targets, Tensor testImages, Tensor testLabels, TransferOptions options, Device device,
        string? checkpointDir = null, IProgress<TrainingProgress>? progress = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        TorchNative.Ensure();
        ArgumentNullException.ThrowIfNull(options);
        var model = ModelFactory.Create(options.Arch, options.ModelSeed, options.Width, device);
        try
        {
            var training = Trainer.Train(model, images, targets, options.Training, device, checkpointDir, progress, log ?? (m => Trace.WriteLine(m)), cancellationToken);
            double test = Evaluation.Accuracy(model, testImages, testLabels, device);
            double train = Evaluation.Accuracy(model, images, targets, device);
            return new TransferResult(model, test, train, training);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
