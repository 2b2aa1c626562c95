namespace Leakage.Released;

/// <summary>
/// The four CIFAR-10 data sets Ilyas et al. (2019) released in <c>datasets.tar</c>
/// (<c>release_datasets/&lt;folder&gt;/{CIFAR_ims, CIFAR_lab}</c>).
/// </summary>
public enum ReleasedDatasetKind
{
    /// <summary><c>d_robust_CIFAR</c>: D_R, images keeping only the features a robust model uses.</summary>
    Robust,

    /// <summary><c>d_non_robust_CIFAR</c>: D_NR, images moved towards a target class, relabelled with it.</summary>
    NonRobust,

    /// <summary><c>drand_CIFAR</c>: D_rand, targeted L2 attacks towards a random class, relabelled with it.</summary>
    DRand,

    /// <summary><c>ddet_CIFAR</c>: D_det, targeted L2 attacks towards class (y + 1) mod 10, relabelled with it.</summary>
    DDet,
}
