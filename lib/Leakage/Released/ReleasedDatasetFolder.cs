namespace Leakage.Released;

/// <summary>A released data set found on disk by <see cref="ReleasedDatasets.Discover"/> (not loaded yet).</summary>
/// <param name="Kind">Which of the four data sets.</param>
/// <param name="Path">The folder holding <c>CIFAR_ims</c> and <c>CIFAR_lab</c>.</param>
public sealed record ReleasedDatasetFolder(ReleasedDatasetKind Kind, string Path)
{
    /// <summary>The folder name in the release, e.g. <c>drand_CIFAR</c>.</summary>
    public string Name => ReleasedDatasets.FolderName(Kind);
}
