// Compatibility shim for libLibTorchSharp.so (TorchSharp 0.107 / libtorch 2.10) on systems whose
// libstdc++ predates GCC 13 (e.g. Debian 12, GLIBCXX_3.4.30).
//
// GCC 13 emits a call to std::ios_base_library_init() (versioned GLIBCXX_3.4.32) from the static
// initialiser of every translation unit that includes <iostream>. Older libstdc++ initialises the
// standard streams through std::ios_base::Init instead, which is exactly what this function does.
// Loaded with RTLD_GLOBAL before TorchSharp, and only where the system libstdc++ lacks the
// version; see lib/Leakage/Native/TorchNative.cs and the README section "TorchSharp on older Linux".
#include <ios>

namespace std {
void ios_base_library_init() { static ios_base::Init init; }
}
