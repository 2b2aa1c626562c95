using System.Globalization;
using System.Text;

namespace Leakage.Scale;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (numbered from 0): the part of a run's work units
/// one worker computes. Units with an ordinal (chunks of D_rand / D_det) fall to shard
/// <c>ordinal mod Count</c>; named units to <c>hash(id) mod Count</c> with a hash fixed by this
/// code (FNV-1a over the UTF-8 id), never by the runtime. Either way the shards of one count
/// partition the units: every unit falls to exactly one shard, on every machine.
/// </summary>
public readonly record struct Shard
{
    /// <summary>Zero-based index of this shard.</summary>
    public int Index { get; }
    /// <summary>Number of shards.</summary>
    public int Count { get; }

    public Shard(int index, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "A run has at least one shard.");
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Shard index must be 0..{count - 1} for {count} shards (shards are numbered from 0).");
        Index = index;
        Count = count;
    }

    /// <summary>The whole run as one shard.</summary>
    public static Shard All => new(0, 1);

    /// <summary>
    /// Parses <c>k/n</c> (0 &lt;= k &lt; n). The error names the option and the valid range, e.g. for a
    /// Slurm array numbered from 1 passed without subtracting its first id.
    /// </summary>
    public static Shard Parse(string text)
    {
        var parts = (text ?? "").Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var k)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new ArgumentException($"--shard '{text}' is not k/n (shard k of n, k from 0 to n-1, e.g. 0/3).");
        if (n < 1) throw new ArgumentException($"--shard '{text}': the number of shards must be at least 1.");
        if (k >= n) throw new ArgumentException($"--shard '{text}': k must be 0..{n - 1} (shards are numbered from 0; a Slurm array numbered from 1 passes $((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN))).");
        return new Shard(k, n);
    }

    /// <summary>Whether the unit with ordinal <paramref name="ordinal"/> (0, 1, ...) falls to this shard.</summary>
    public bool Owns(int ordinal) => ordinal >= 0 ? ordinal % Count == Index : throw new ArgumentOutOfRangeException(nameof(ordinal));

    /// <summary>Whether the named unit <paramref name="unitId"/> falls to this shard.</summary>
    public bool Owns(string unitId) => (int)(StableHash(unitId) % (ulong)Count) == Index;

    /// <summary>FNV-1a (64 bit) of the UTF-8 bytes: the same on every machine and runtime.</summary>
    public static ulong StableHash(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }

    public override string ToString() => $"{Index}/{Count}";
}
