#include "kernel_pool.hpp"

#include <new>
#include <utility>

namespace milk::kernel {

KernelPool::KernelPool(KernelPool&& other) noexcept
    : m_used(std::exchange(other.m_used, nullptr)),
      m_start(std::exchange(other.m_start, nullptr)),
      m_lent(std::exchange(other.m_lent, nullptr)),
      m_units(std::exchange(other.m_units, 0)),
      m_hint(std::exchange(other.m_hint, 0)),
      m_units_in_use(std::exchange(other.m_units_in_use, 0)) {}

KernelPool& KernelPool::operator=(KernelPool&& other) noexcept {
    if (this != &other) {
        delete[] m_used;
        delete[] m_start;
        delete[] m_lent;
        m_used = std::exchange(other.m_used, nullptr);
        m_start = std::exchange(other.m_start, nullptr);
        m_lent = std::exchange(other.m_lent, nullptr);
        m_units = std::exchange(other.m_units, 0);
        m_hint = std::exchange(other.m_hint, 0);
        m_units_in_use = std::exchange(other.m_units_in_use, 0);
    }
    return *this;
}

KernelPool::~KernelPool() {
    delete[] m_used;
    delete[] m_start;
    delete[] m_lent;
}

Result<KernelPool> KernelPool::try_create(std::uint32_t pool_bytes) {
    if (pool_bytes == 0 || pool_bytes % (unit_bytes * 64) != 0)
        return Error{ErrorCode::InvalidArgument, "kernel pool size must be a multiple of 4096", pool_bytes};
    KernelPool pool;
    pool.m_units = pool_bytes / unit_bytes;
    const std::uint32_t words = pool.m_units / 64;
    pool.m_used = new (std::nothrow) std::uint64_t[words]{};
    pool.m_start = new (std::nothrow) std::uint64_t[words]{};
    pool.m_lent = new (std::nothrow) std::uint64_t[words]{};
    if (pool.m_used == nullptr || pool.m_start == nullptr || pool.m_lent == nullptr)
        return Error{ErrorCode::OutOfMemory, "kmalloc of a pool bitmap failed", words};
    return pool;
}

Result<std::uint32_t> KernelPool::allocate(std::uint32_t bytes) {
    const std::uint64_t wanted64 = (std::uint64_t{bytes} + unit_bytes - 1) / unit_bytes;
    const std::uint32_t wanted = wanted64 == 0 ? 1 : static_cast<std::uint32_t>(wanted64 > m_units ? 0 : wanted64);
    if (wanted == 0) return Error{ErrorCode::OutOfMemory, "buffer larger than the kernel's pool", bytes};
    // First fit, starting at the hint and wrapping once: a run must not
    // cross the end, so the scan restarts at 0 when it would.
    std::uint32_t run_start = m_hint;
    std::uint32_t run = 0;
    for (std::uint32_t scanned = 0; scanned < m_units + wanted; ++scanned) {
        std::uint32_t unit = run_start + run;
        if (unit >= m_units) {
            run_start = 0;
            run = 0;
            unit = 0;
        }
        if (test(m_used, unit)) {
            run_start = unit + 1;
            run = 0;
            continue;
        }
        if (++run == wanted) {
            for (std::uint32_t i = 0; i < wanted; ++i) set(m_used, run_start + i);
            set(m_start, run_start);
            set(m_lent, run_start);
            m_hint = run_start + wanted < m_units ? run_start + wanted : 0;
            m_units_in_use += wanted;
            return run_start * unit_bytes;
        }
    }
    return Error{ErrorCode::OutOfMemory, "the kernel's pool of this channel is full", bytes};
}

bool KernelPool::is_start(std::uint32_t offset) const {
    return offset % unit_bytes == 0 && offset / unit_bytes < m_units && test(m_start, offset / unit_bytes);
}

void KernelPool::free_block(std::uint32_t first) {
    clear(m_start, first);
    clear(m_lent, first);
    for (std::uint32_t unit = first; unit < m_units && test(m_used, unit); ++unit) {
        if (unit != first && test(m_start, unit)) break;
        clear(m_used, unit);
        --m_units_in_use;
    }
}

bool KernelPool::release_returned(std::uint32_t offset) {
    if (!is_start(offset) || !test(m_lent, offset / unit_bytes)) return false;
    free_block(offset / unit_bytes);
    return true;
}

bool KernelPool::take_back(std::uint32_t offset, std::uint32_t length) {
    if (!is_start(offset) || !test(m_lent, offset / unit_bytes)) return false;
    const std::uint32_t first = offset / unit_bytes;
    std::uint64_t block = 0;
    for (std::uint32_t unit = first; unit < m_units && test(m_used, unit); ++unit) {
        if (unit != first && test(m_start, unit)) break;
        block += unit_bytes;
    }
    if (length > block) return false;
    clear(m_lent, first);
    return true;
}

bool KernelPool::lend_held(std::uint32_t offset, std::uint32_t length) {
    if (!is_start(offset) || test(m_lent, offset / unit_bytes)) return false;
    const std::uint32_t first = offset / unit_bytes;
    std::uint64_t block = 0;
    for (std::uint32_t unit = first; unit < m_units && test(m_used, unit); ++unit) {
        if (unit != first && test(m_start, unit)) break;
        block += unit_bytes;
    }
    if (length > block) return false;
    set(m_lent, first);
    return true;
}

bool KernelPool::release_held(std::uint32_t offset) {
    if (!is_start(offset) || test(m_lent, offset / unit_bytes)) return false;
    free_block(offset / unit_bytes);
    return true;
}

}  // namespace milk::kernel
