// Delayed release of TorchSharp's native Scalars (loaded by lib/Leakage/Native/ScalarQuarantine.cs).
//
// TorchSharp 0.107 frees a c10::Scalar in the finalizer of its managed Scalar, which holds the pointer
// as a bare IntPtr. A temporary Scalar (TorchSharp's own: the alpha of Tensor.add(Tensor), pow(2) in
// square(), BatchNorm's num_batches_tracked += 1; or a number converted implicitly) is unreachable as
// soon as its pointer has been passed to native code, so a garbage collection on another thread can
// run its finalizer while libtorch is still reading it. This library exports the one function that
// frees a Scalar, THSTorch_dispose_scalar, and frees each pointer only after 65,536 later releases:
// by then any call that was handed the pointer has long read it. Every other symbol resolves to
// libLibTorchSharp.so, which this library lists as a dependency. Cost: 65,536 pointers and at most as
// many 32-byte Scalars held (about 3 MB).
#include <dlfcn.h>
#include <atomic>
#include <cstddef>

namespace {
using DisposeScalar = void (*)(void*);
constexpr std::size_t Slots = std::size_t{1} << 16;
std::atomic<void*> ring[Slots];
std::atomic<std::size_t> next{0};
std::atomic<std::size_t> released{0};

// Looked up on first use (libLibTorchSharp.so is loaded by then); a race only looks it up twice.
std::atomic<DisposeScalar> dispose_fn{nullptr};

DisposeScalar real_dispose() {
    DisposeScalar f = dispose_fn.load(std::memory_order_acquire);
    if (f == nullptr) {
        void* lib = dlopen("libLibTorchSharp.so", RTLD_NOW | RTLD_NOLOAD);
        if (lib != nullptr) f = reinterpret_cast<DisposeScalar>(dlsym(lib, "THSTorch_dispose_scalar"));
        dispose_fn.store(f, std::memory_order_release);
    }
    return f;
}
}  // namespace

extern "C" {
__attribute__((visibility("default"))) void THSTorch_dispose_scalar(void* scalar) {
    if (scalar == nullptr) return;
    void* oldest = ring[next.fetch_add(1, std::memory_order_relaxed) & (Slots - 1)].exchange(scalar, std::memory_order_acq_rel);
    if (oldest != nullptr) {
        if (DisposeScalar dispose = real_dispose()) dispose(oldest);
        released.fetch_add(1, std::memory_order_relaxed);
    }
}

// For tests and logs: Scalars handed to THSTorch_dispose_scalar, and those actually freed.
__attribute__((visibility("default"))) std::size_t leakage_scalar_quarantine_received() { return next.load(); }
__attribute__((visibility("default"))) std::size_t leakage_scalar_quarantine_released() { return released.load(); }
}
