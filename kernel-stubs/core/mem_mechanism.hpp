// The kernel memory mechanism (mem_mechanism.cpp): a region of pages that
// milk.ko's own fault handler serves from a smaller pool of frames, as the
// region's policy (a memory manager component, contracts/mem.contract)
// decides. docs/mem.md, "The kernel mechanism", says how it works; the ABI
// is MILK_IOC_MEM_* (include/milk_uapi.h).
#pragma once

#include "component.hpp"
#include "owned.hpp"

#include "milk_uapi.h"

#include <milk/fixed_array.hpp>
#include <milk/result.hpp>

#include <atomic>
#include <cstdint>

namespace milk::kernel::mem {

// Who decides the region's faults.
enum class Mode : std::uint8_t {
    Direct,    // a policy in the module, called in the faulting thread
    Agent,     // a policy reached by the fd's agent (MILK_IOC_MEM_WAIT / APPLY)
    Fallback,  // the module's own FIFO, since the policy was dropped
};

// A page's or a frame's number in a region's books. A type of its own, not
// a bare std::uint32_t: FixedArray<std::uint32_t>::try_create is also
// instantiated in the components' object, and two copies of one template
// function that is not inlined break the core's relocatable link with these
// compilers and kernels (an entry of __patchable_function_entries points
// into the COMDAT group the linker discarded).
struct Number {
    std::uint32_t value;
};

class Region {
public:
    // MILK_IOC_MEM_CREATE's request, already copied in; `mapping` is the
    // address space the shim made for the region (for unmapping a page from
    // every mapping of it).
    [[nodiscard]] static Result<Owned<Region>> try_create(const milk_mem_create& request, void* mapping);
    ~Region();
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

    [[nodiscard]] std::uint64_t bytes() const;
    [[nodiscard]] bool has_agent() const { return m_agent; }

    // The fault handler's calls (milk_core.h: milk_core_mem_fault, _wait).
    [[nodiscard]] int fault(std::uint32_t page, bool write, void* fault, unsigned int* result);
    void wait(std::uint32_t page);

    // The ioctls without the file's mutex.
    [[nodiscard]] long ioctl_wait(unsigned long argument);
    [[nodiscard]] long ioctl_apply(unsigned long argument);
    [[nodiscard]] long ioctl_fallback();
    [[nodiscard]] long ioctl_stats(unsigned long argument);

    // For the ready() callbacks of the shim's waits (read without the lock).
    [[nodiscard]] std::uint64_t generation() const { return m_generation.load(std::memory_order_acquire); }
    [[nodiscard]] bool agent_has_work() const;

    Region() = default;

private:
    // All of these run under m_lock.
    [[nodiscard]] Result<void> apply_decision(std::uint32_t kind, std::uint32_t page, std::uint32_t frame);
    [[nodiscard]] Result<void> evict(std::uint32_t page, std::uint32_t frame);
    [[nodiscard]] Result<void> decide_directly(DirectMemPolicy& policy, std::uint32_t page, bool write);
    void fall_back(std::uint32_t reason);
    void queue_for_agent(std::uint32_t page, bool write);
    void changed();

    std::uint32_t m_pages = 0;
    std::uint32_t m_frames = 0;
    std::uint64_t m_deadline_ns = 0;
    bool m_agent = false;
    void* m_mapping = nullptr;
    void* m_lock = nullptr;
    void* m_faulters = nullptr;  // the shim's wait queue of faulting threads
    void* m_agent_queue = nullptr;  // the shim's wait queue of the agent (WAIT)

    // The books: which page each frame holds and which frame each page is
    // on; each frame's kernel page; each page's saved copy (null until its
    // first eviction: a page never saved maps zero-filled).
    FixedArray<void*> m_frame_page;
    FixedArray<Number> m_page_on;
    FixedArray<Number> m_frame_of;
    FixedArray<void*> m_saved;
    // Agent mode: since when each page's fault waits (0: it does not), and
    // the faults the agent has not read yet (each page at most once).
    FixedArray<std::uint64_t> m_waiting_since;
    FixedArray<milk_mem_event> m_queue;
    std::uint32_t m_queue_head = 0;
    std::atomic<std::uint32_t> m_queue_count{0};

    Mode m_mode = Mode::Direct;
    Owned<DirectMemPolicy> m_policy;
    // The FIFO a region falls back to, built with the region so that falling
    // back cannot fail for want of memory.
    Owned<DirectMemPolicy> m_fallback;
    std::atomic<std::uint64_t> m_generation{0};
    // Set with m_mode = Fallback, for the agent's wait (read without the lock).
    std::atomic<bool> m_dropped{false};

    std::uint32_t m_fallback_reason = MILK_MEM_FALLBACK_NONE;
    std::uint64_t m_fallback_ns = 0;
    std::uint32_t m_resident = 0;
    std::uint64_t m_faults = 0;
    std::uint64_t m_evictions = 0;
    std::uint64_t m_maps = 0;
    std::uint64_t m_prefetches = 0;
};

// MILK_IOC_MEM_CREATE: the region in `created`, or an errno.
[[nodiscard]] long create(unsigned long argument, void* mapping, Owned<Region>& created);

}  // namespace milk::kernel::mem
