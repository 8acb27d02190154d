// The pieces of a C++ runtime the freestanding core needs, on top of the
// shim: operator new/delete on kmalloc/kfree, the pure-virtual trap, and the
// two out-of-line functions of milk/result.hpp (describe, die).
//
// Deliberately NOT defined: __cxa_atexit, __dso_handle and the __cxa_guard_*
// functions. They are only referenced by objects with static storage that
// need a constructor or destructor at run time, which the kernel would never
// run (no CONFIG_CONSTRUCTORS; nothing calls destructors at unload). Leaving
// them undefined turns such an object into a modpost error instead of a
// silent bug; globals of the core are constinit and set up by
// milk_core_init().
#include "kernel_log.hpp"

#include "milk_core.h"

#include <milk/result.hpp>

#include <bit>
#include <cstddef>
#include <new>

namespace {

// kmalloc guarantees 8-byte alignment for every size and natural alignment
// for power-of-two sizes, so a stricter alignment is had by rounding the size
// up to a power of two no smaller than the alignment. The core is compiled
// with -faligned-new=8, so every type aligned beyond 8 comes through here.
constexpr std::size_t kmalloc_min_alignment = 8;

void* allocate(std::size_t bytes, std::size_t alignment) {
    if (bytes == 0) bytes = 1;
    if (alignment > kmalloc_min_alignment) {
        if (alignment > milk_shim_page_size()) return nullptr;
        bytes = std::bit_ceil(bytes < alignment ? alignment : bytes);
    }
    return milk_shim_kmalloc(bytes);
}

}  // namespace

// The tag object of new (std::nothrow), which libsupc++ would define.
const std::nothrow_t std::nothrow{};

// Without exceptions an allocation failure cannot throw bad_alloc: every
// form returns nullptr, and -fcheck-new makes the compiler test for it before
// running a constructor. Core code uses new (std::nothrow) (milk::kernel::
// Owned) so that the failure is visible in the types too.
void* operator new(std::size_t bytes) { return allocate(bytes, 0); }
void* operator new[](std::size_t bytes) { return allocate(bytes, 0); }
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept { return allocate(bytes, 0); }
void* operator new[](std::size_t bytes, const std::nothrow_t&) noexcept { return allocate(bytes, 0); }
void* operator new(std::size_t bytes, std::align_val_t alignment) {
    return allocate(bytes, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t bytes, std::align_val_t alignment) {
    return allocate(bytes, static_cast<std::size_t>(alignment));
}
void* operator new(std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return allocate(bytes, static_cast<std::size_t>(alignment));
}
void* operator new[](std::size_t bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return allocate(bytes, static_cast<std::size_t>(alignment));
}

void operator delete(void* pointer) noexcept { milk_shim_kfree(pointer); }
void operator delete[](void* pointer) noexcept { milk_shim_kfree(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { milk_shim_kfree(pointer); }
void operator delete[](void* pointer, std::size_t) noexcept { milk_shim_kfree(pointer); }
void operator delete(void* pointer, std::align_val_t) noexcept { milk_shim_kfree(pointer); }
void operator delete[](void* pointer, std::align_val_t) noexcept { milk_shim_kfree(pointer); }
void operator delete(void* pointer, std::size_t, std::align_val_t) noexcept { milk_shim_kfree(pointer); }
void operator delete[](void* pointer, std::size_t, std::align_val_t) noexcept { milk_shim_kfree(pointer); }
void operator delete(void* pointer, const std::nothrow_t&) noexcept { milk_shim_kfree(pointer); }
void operator delete[](void* pointer, const std::nothrow_t&) noexcept { milk_shim_kfree(pointer); }
void operator delete(void* pointer, std::align_val_t, const std::nothrow_t&) noexcept { milk_shim_kfree(pointer); }
void operator delete[](void* pointer, std::align_val_t, const std::nothrow_t&) noexcept { milk_shim_kfree(pointer); }

// A call through a pure virtual function means a half-built or destroyed
// object: a bug in the core, so BUG() (an oops, a panic under oops=panic).
extern "C" void __cxa_pure_virtual() {  // NOLINT(bugprone-reserved-identifier): the ABI's name
    milk::kernel::log(MILK_LOG_ERR, "pure virtual function called");
    milk_shim_bug();
    __builtin_trap();  // never reached (milk_core.h says why it is written)
}

namespace milk {

// milk::Deadline's clock in a freestanding build (deadline.hpp).
std::int64_t freestanding_clock_ns() noexcept { return milk_shim_clock_ns(); }

const char* describe(ErrorCode code) {
    switch (code) {
    case ErrorCode::PeerClosed: return "peer closed";
    case ErrorCode::TimedOut: return "timed out";
    case ErrorCode::WouldBlock: return "would block";
    case ErrorCode::ProtocolViolation: return "protocol violation";
    case ErrorCode::BadBuffer: return "bad buffer";
    case ErrorCode::CorruptRing: return "corrupt ring";
    case ErrorCode::OutOfMemory: return "out of memory";
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::SystemError: return "system error";
    }
    return "unknown error";
}

// Taking the value of a failed Result is a bug of the caller; in the kernel
// that is BUG(). The trap after it is never reached (BUG() does not return),
// but the core sees the shim's function without noreturn (milk_core.h says
// why), so the compiler needs it to keep die()'s [[noreturn]] promise. A
// trap, not a loop: objtool (6.12, on the linked module) knows the shim's
// function never returns and accepts only a trap as unreachable code after
// the call.
void die(const char* context, const Error& error) {
    kernel::log(MILK_LOG_ERR, context, static_cast<long long>(error.code));
    if (error.what != nullptr) kernel::log(MILK_LOG_ERR, error.what, error.detail);
    milk_shim_bug();
    __builtin_trap();
}

}  // namespace milk
