namespace Leakage.Data;

/// <summary>Options for <see cref="CifarLoader.Load"/>.</summary>
public sealed record CifarLoadOptions
{
    /// <summary>Where the decoded-image cache lives (image folders only). Null: <see cref="TensorCache.DefaultFolder"/>.</summary>
    public string? CacheFolder { get; init; }
    /// <summary>Set false to always decode image folders (no cache read or write).</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>Receives one-line log messages (format detected, cache hits and rebuild reasons).</summary>
    public Action<string>? Log { get; init; }
    /// <summary>Records per .bin file; 10,000 for the official release (tests use tiny files).</summary>
    public int BinaryRecordsPerFile { get; init; } = CifarBinaryFormat.RecordsPerFile;
}

/// <summary>
/// Loads CIFAR-10 from a folder in either supported layout, detected automatically:
/// the official binary release (a folder holding <c>cifar-10-batches-bin/</c>, or the .bin files
/// directly) or an image folder (<c>train/&lt;class&gt;/*</c>, <c>test/&lt;class&gt;/*</c>).
/// </summary>
public static class CifarLoader
{
    /// <summary>Environment variable that points notebooks (and the CLI, when --data is absent) at the data.</summary>
    public const string DataEnvironmentVariable = "LEAKAGE_DATA";

    /// <summary>Which layout <paramref name="dir"/> holds; an error that says what to do when neither.</summary>
    public static DataFormat Detect(string dir)
    {
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException(MissingDataMessage(dir, "the folder does not exist"));
        if (CifarBinaryFormat.FindBatchFolder(dir) != null) return DataFormat.Binary;
        if (ImageFolderFormat.Looks(dir)) return DataFormat.ImageFolder;
        throw new DirectoryNotFoundException(MissingDataMessage(dir, "it holds neither cifar-10-batches-bin/ nor train/ and test/ image folders"));
    }

    /// <summary>The message for a data folder that is missing or empty: where to put data, how to download it.</summary>
    public static string MissingDataMessage(string dir, string why) =>
        $"No CIFAR-10 data at {Path.GetFullPath(dir)}: {why}. Either download the official binary release with " +
        $"'dotnet run --project lib/Leakage.Cli -c Release -- download --data {dir}' (fetches {Cifar10.BinaryArchiveUrl}, " +
        $"MD5-checked; the run, experiment, seeds and data-info commands do it first when given --download), or, offline, copy {Cifar10.BinaryArchiveName}'s {Cifar10.BinaryFolderName}/ folder (data_batch_1..5.bin, " +
        $"test_batch.bin) there, or point --data (or ${DataEnvironmentVariable}) at an image folder with train/<class>/ and test/<class>/.";

    /// <summary>Loads both splits. Errors name the offending file or folder.</summary>
    public static CifarData Load(string dir, CifarLoadOptions? options = null)
    {
        options ??= new CifarLoadOptions();
        var format = Detect(dir);
        if (format == DataFormat.Binary)
        {
            var batchDir = CifarBinaryFormat.FindBatchFolder(dir)!;
            options.Log?.Invoke($"Reading CIFAR-10 binary batches from {batchDir}");
            var (train, test) = CifarBinaryFormat.Load(batchDir, options.BinaryRecordsPerFile);
            return new CifarData(train, test, format, Path.GetFullPath(dir));
        }
        return LoadImageFolder(dir, options);
    }

    static CifarData LoadImageFolder(string dir, CifarLoadOptions options)
    {
        var trainEntries = ImageFolderFormat.List(dir, "train");
        var testEntries = ImageFolderFormat.List(dir, "test");
        var fingerprint = TensorCache.Fingerprint(dir, trainEntries.Concat(testEntries));
        string? cacheFile = options.UseCache ? TensorCache.PathFor(options.CacheFolder ?? TensorCache.DefaultFolder(), dir) : null;
        if (cacheFile != null)
        {
            var cached = TensorCache.TryRead(cacheFile, fingerprint, out var why);
            if (cached != null)
            {
                options.Log?.Invoke($"Loaded {trainEntries.Count + testEntries.Count:N0} images of {dir} from cache {cacheFile}");
                return Build(cached, dir);
            }
            options.Log?.Invoke($"Decoding {trainEntries.Count + testEntries.Count:N0} images from {dir} ({why})");
        }
        var (trainPx, trainY) = ImageFolderFormat.Decode(trainEntries);
        var (testPx, testY) = ImageFolderFormat.Decode(testEntries);
        var payload = new TensorCache.Payload(trainPx, trainY, testPx, testY);
        if (cacheFile != null)
        {
            try
            {
                TensorCache.Write(cacheFile, fingerprint, dir, payload);
                options.Log?.Invoke($"Wrote cache {cacheFile}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                options.Log?.Invoke($"Could not write cache {cacheFile} ({e.Message}); continuing without it");
            }
        }
        return Build(payload, dir);
    }

    static CifarData Build(TensorCache.Payload p, string dir)
    {
        var train = CifarSplit.FromBytes("train", p.TrainPixels, p.TrainLabels);
        var test = CifarSplit.FromBytes("test", p.TestPixels, p.TestLabels);
        return new CifarData(train, test, DataFormat.ImageFolder, Path.GetFullPath(dir));
    }

    /// <summary>
    /// The loaded data's <paramref name="source"/> as results.json and bench.json record it, never by a
    /// machine path: relative to the working directory when the user named its folder relatively
    /// (<paramref name="given"/>: <c>data</c>), else by the folder's name (<c>cifar10-jpg</c>), as
    /// <c>run</c> hands the notebooks an absolute folder.
    /// </summary>
    public static string AsNamed(string given, string source) =>
        Path.IsPathRooted(given)
            ? Path.GetFileName(Path.TrimEndingDirectorySeparator(source))
            : Path.GetRelativePath(Environment.CurrentDirectory, source);

    /// <summary>
    /// The data folder to use: <paramref name="explicitDir"/> (the --data option) when given, else
    /// $LEAKAGE_DATA, else <c>data/</c> under the current directory.
    /// </summary>
    public static string ResolveFolder(string? explicitDir)
    {
        if (!string.IsNullOrWhiteSpace(explicitDir)) return explicitDir;
        var env = Environment.GetEnvironmentVariable(DataEnvironmentVariable);
        return !string.IsNullOrWhiteSpace(env) ? env : "data";
    }
}
