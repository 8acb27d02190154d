// milk::kernel::KernelRegion: a zeroed vmalloc_user area that user space
// maps with mmap(). Move-only; the destructor returns it with vfree.
//
// vfree while user space still maps the pages would be safe (the mapping
// holds its own page references), but it does not happen anyway: a mapping
// holds the file, and the file's state owns the region.
#pragma once

#include "milk_core.h"

#include <milk/result.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace milk::kernel {

class [[nodiscard]] KernelRegion {
public:
    KernelRegion() = default;
    KernelRegion(KernelRegion&& other) noexcept
        : m_base(std::exchange(other.m_base, nullptr)), m_size(std::exchange(other.m_size, 0)) {}
    KernelRegion& operator=(KernelRegion&& other) noexcept {
        if (this != &other) {
            milk_shim_vfree(m_base);
            m_base = std::exchange(other.m_base, nullptr);
            m_size = std::exchange(other.m_size, 0);
        }
        return *this;
    }
    KernelRegion(const KernelRegion&) = delete;
    KernelRegion& operator=(const KernelRegion&) = delete;
    ~KernelRegion() { milk_shim_vfree(m_base); }

    // At least `bytes`, rounded up to whole pages (mmap maps pages).
    [[nodiscard]] static Result<KernelRegion> try_create(std::size_t bytes) {
        const std::size_t page = milk_shim_page_size();
        const std::size_t rounded = (bytes + page - 1) / page * page;
        void* base = milk_shim_vmalloc_user(rounded);
        if (base == nullptr) return Error{ErrorCode::OutOfMemory, "vmalloc_user failed", static_cast<std::int64_t>(rounded)};
        return KernelRegion(static_cast<std::byte*>(base), rounded);
    }

    [[nodiscard]] std::byte* base() const { return m_base; }
    [[nodiscard]] std::size_t size() const { return m_size; }

private:
    KernelRegion(std::byte* base, std::size_t size) : m_base(base), m_size(size) {}

    std::byte* m_base = nullptr;
    std::size_t m_size = 0;
};

}  // namespace milk::kernel
