namespace Leakage;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the calling thread (no SynchronizationContext hop,
/// unlike <see cref="Progress{T}"/>): the one progress adapter of the library, its tools and tests.
/// </summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
