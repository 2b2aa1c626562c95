namespace Leakage.Released;

/// <summary>The two on-disk layouts of <c>torch.save</c>.</summary>
public enum TorchSaveFormat
{
    /// <summary>
    /// torch before 1.6 (and later with <c>_use_new_zipfile_serialization=False</c>): pickles of the
    /// magic number, protocol version 1001 and sys info, then the pickled object, then the list of
    /// storage keys, then each storage as a little-endian int64 element count and its raw
    /// little-endian bytes.
    /// </summary>
    Legacy,

    /// <summary>
    /// torch 1.6 and later: a zip archive (entries stored, not compressed) holding
    /// <c>&lt;name&gt;/data.pkl</c>, one entry <c>&lt;name&gt;/data/&lt;key&gt;</c> per storage and, from
    /// torch 2.1, <c>&lt;name&gt;/byteorder</c>.
    /// </summary>
    Zip,
}
