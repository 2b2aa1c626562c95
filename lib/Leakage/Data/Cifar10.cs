namespace Leakage.Data;

/// <summary>Facts about CIFAR-10 (Krizhevsky 2009).</summary>
public static class Cifar10
{
    /// <summary>Class names in the official label order 0..9.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public const int Classes = 10;
    public const int Channels = 3;
    public const int Height = 32;
    public const int Width = 32;
    /// <summary>Values per image (3 x 32 x 32).</summary>
    public const int ImageSize = Channels * Height * Width;
    public const int TrainCount = 50_000;
    public const int TestCount = 10_000;

    /// <summary>The official binary archive and its MD5, from https://www.cs.toronto.edu/~kriz/cifar.html.</summary>
    public const string BinaryArchiveUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
    public const string BinaryArchiveMd5 = "c32a1d4ab5d03f1284b67883e8d87530";
    public const string BinaryArchiveName = "cifar-10-binary.tar.gz";
    public const string BinaryFolderName = "cifar-10-batches-bin";
    public static readonly IReadOnlyList<string> BinaryTrainFiles =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    public const string BinaryTestFile = "test_batch.bin";
}
