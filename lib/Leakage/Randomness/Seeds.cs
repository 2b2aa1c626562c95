namespace Leakage.Randomness;

/// <summary>
/// Derives independent, reproducible seeds from a base seed and a path of integers (epoch, chunk,
/// stream...), so that every random draw can be recomputed from its coordinates alone. This is what
/// lets an interrupted run resume bit-identically: nothing depends on how many numbers an earlier,
/// possibly skipped, part of the run drew.
/// </summary>
public static class Seeds
{
    /// <summary>
    /// Mixes <paramref name="seed"/> with <paramref name="path"/> through SplitMix64 (Steele et al.
    /// 2014). Different paths give statistically independent streams; the same path always the same seed.
    /// </summary>
    public static ulong Derive(long seed, params long[] path)
    {
        ulong state = Mix(unchecked((ulong)seed) ^ 0x9E3779B97F4A7C15UL);
        foreach (var p in path) state = Mix(state ^ Mix(unchecked((ulong)p) + 0xBF58476D1CE4E5B9UL));
        return state;
    }

    static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
