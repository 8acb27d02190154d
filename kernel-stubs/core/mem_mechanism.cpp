// The kernel memory mechanism's books (MILK_IOC_MEM_*, docs/mem.md "The
// kernel mechanism"). The shim (shim/milk_mem_shim.c) maps a region into
// user space with no pages and calls Region::fault from its fault handler
// for every touch of a page without a frame; this file asks the region's
// policy, checks each of its decisions against the books, and applies
// them: an eviction unmaps the page from every mapping and saves it, a map
// restores the page onto its frame; then the faulting address gets the
// frame.
//
// One lock per region, the shim's mutex m_lock, guards the books. The fault
// handler takes it with the process's memory map lock held (for reading),
// so nothing under it may touch user memory: the ioctls copy in before they
// lock and out after. The agent's policy is never waited for under it: a
// fault the agent must decide is queued, and its thread waits in
// Region::wait after the shim has let the memory map lock go (the fault is
// then retried, as userfaultfd's are).
#include "mem_mechanism.hpp"

#include "component.hpp"
#include "kernel_log.hpp"
#include "mutex_guard.hpp"
#include "settings_table.hpp"

#include "milk_core.h"
#include "milk_uapi.h"

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace milk::kernel::mem {
namespace {

constexpr std::uint32_t none = 0xffffffffu;
constexpr std::uint64_t page_bytes = 4096;
// One fault's decisions: an eviction and a map, with room for a policy that
// moves more. A policy that decides more than this breaks the rules.
constexpr std::size_t max_direct_decisions = 8;
constexpr std::uint8_t event_fault = MILK_MEM_EVENT_FAULT;

// The FIFO every region falls back to: mem_fifo's own code.
constexpr const char* fallback_component = "mem_fifo";

template <typename T>
Result<FixedArray<T>> zeroed(std::size_t size) {
    return FixedArray<T>::try_create(size, FixedArray<T>::Fill::Zero);
}

std::uint64_t now_ns() { return static_cast<std::uint64_t>(milk_shim_clock_ns()); }

Result<Owned<DirectMemPolicy>> build_policy(const char* name, const Settings& settings, std::uint32_t pages,
                                            std::uint32_t frames) {
    const FoundComponent found = find_component(name);
    if (found.entry == nullptr) return Error{ErrorCode::InvalidArgument, "mem: no such component in the module", 0};
    if (found.entry->create_direct_mem == nullptr)
        return Error{ErrorCode::InvalidArgument, "mem: the component is no memory manager", 0};
    return found.entry->create_direct_mem(settings, pages, frames);
}

int generation_moved(void* argument);

struct GenerationWait {
    const Region* region;
    std::uint64_t seen;
};

int generation_moved(void* argument) {
    const auto& wait = *static_cast<const GenerationWait*>(argument);
    return wait.region->generation() != wait.seen ? 1 : 0;
}

int agent_ready(void* argument) { return static_cast<const Region*>(argument)->agent_has_work() ? 1 : 0; }

}  // namespace

Result<Owned<Region>> Region::try_create(const milk_mem_create& request, void* mapping) {
    const std::uint32_t pages = request.pages;
    const std::uint32_t frames = request.frames;
    if (pages < 2 || pages > MILK_MEM_MAX_PAGES || frames < 1 || frames >= pages || frames > MILK_MEM_MAX_FRAMES ||
        request.deadline_ms > MILK_MEM_MAX_DEADLINE_MS || request.reserved != 0 || !terminated(request.policy))
        return Error{ErrorCode::InvalidArgument, "mem: a malformed region", pages};
    const bool agent = request.policy[0] == '\0';
    if (agent && request.settings.count != 0)
        return Error{ErrorCode::InvalidArgument, "mem: settings without a policy", request.settings.count};
    auto settings = MILK_TRY(copy_settings(request.settings));

    auto region = MILK_TRY(Owned<Region>::try_create());
    Region& made = *region;
    made.m_pages = pages;
    made.m_frames = frames;
    made.m_agent = agent;
    made.m_mode = agent ? Mode::Agent : Mode::Direct;
    made.m_mapping = mapping;
    const std::uint32_t deadline_ms = request.deadline_ms == 0 ? MILK_MEM_DEFAULT_DEADLINE_MS : request.deadline_ms;
    made.m_deadline_ns = std::uint64_t{deadline_ms} * 1'000'000;
    made.m_lock = milk_shim_mutex_create();
    made.m_faulters = milk_shim_queue_create();
    made.m_agent_queue = milk_shim_queue_create();
    if (made.m_lock == nullptr || made.m_faulters == nullptr || made.m_agent_queue == nullptr)
        return Error{ErrorCode::OutOfMemory, "mem: no memory for the region's locks", 0};

    made.m_frame_page = MILK_TRY(zeroed<void*>(frames));
    made.m_page_on = MILK_TRY(zeroed<Number>(frames));
    made.m_frame_of = MILK_TRY(zeroed<Number>(pages));
    made.m_saved = MILK_TRY(zeroed<void*>(pages));
    for (std::uint32_t frame = 0; frame < frames; ++frame) made.m_page_on[frame].value = none;
    for (std::uint32_t page = 0; page < pages; ++page) made.m_frame_of[page].value = none;
    if (agent) {
        made.m_waiting_since = MILK_TRY(zeroed<std::uint64_t>(pages));
        made.m_queue = MILK_TRY(zeroed<milk_mem_event>(pages));
    }
    for (std::uint32_t frame = 0; frame < frames; ++frame) {
        made.m_frame_page[frame] = milk_shim_page_alloc();
        if (made.m_frame_page[frame] == nullptr)
            return Error{ErrorCode::OutOfMemory, "mem: no memory for the region's frames", frames};
    }
    if (!agent) made.m_policy = MILK_TRY(build_policy(request.policy, settings, pages, frames));
    const Settings no_settings;
    made.m_fallback = MILK_TRY(build_policy(fallback_component, no_settings, pages, frames));
    return region;
}

Region::~Region() {
    for (std::size_t frame = 0; frame < m_frame_page.size(); ++frame) milk_shim_page_free(m_frame_page[frame]);
    for (std::size_t page = 0; page < m_saved.size(); ++page) milk_shim_page_free(m_saved[page]);
    if (m_agent_queue != nullptr) milk_shim_queue_destroy(m_agent_queue);
    if (m_faulters != nullptr) milk_shim_queue_destroy(m_faulters);
    if (m_lock != nullptr) milk_shim_mutex_destroy(m_lock);
}

std::uint64_t Region::bytes() const { return std::uint64_t{m_pages} * page_bytes; }

bool Region::agent_has_work() const {
    return m_queue_count.load(std::memory_order_acquire) != 0 || m_dropped.load(std::memory_order_acquire);
}

// Something a waiting thread may care about happened: a page got its frame,
// or the region fell back.
void Region::changed() {
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    milk_shim_queue_wake(m_faulters);
}

Result<void> Region::evict(std::uint32_t page, std::uint32_t frame) {
    // The copy is taken after the page is gone from every mapping, so no
    // write can land in the frame after it (a thread that touches the page
    // meanwhile faults, and waits for this lock).
    if (m_saved[page] == nullptr) {
        m_saved[page] = milk_shim_page_alloc();
        if (m_saved[page] == nullptr) return Error{ErrorCode::OutOfMemory, "mem: no memory to save a page", page};
    }
    milk_shim_mem_unmap(m_mapping, page);
    milk_shim_page_copy(m_saved[page], m_frame_page[frame]);
    m_frame_of[page].value = none;
    m_page_on[frame].value = none;
    --m_resident;
    ++m_evictions;
    return {};
}

// One decision, checked against the books before anything changes: an
// eviction must name the page its frame holds, a map an empty frame and a
// page without one.
Result<void> Region::apply_decision(std::uint32_t kind, std::uint32_t page, std::uint32_t frame) {
    if (page >= m_pages || frame >= m_frames) return Error{ErrorCode::ProtocolViolation, "mem: a decision outside the region", page};
    switch (kind) {
    case MILK_MEM_DECIDE_EVICT:
        if (m_page_on[frame].value != page) return Error{ErrorCode::ProtocolViolation, "mem: an eviction of a page the frame does not hold", page};
        return evict(page, frame);
    case MILK_MEM_DECIDE_MAP:
    case MILK_MEM_DECIDE_PREFETCH:
        // A prefetch is a map no thread waits for: the page's first touch
        // finds its frame and only maps it.
        if (m_page_on[frame].value != none || m_frame_of[page].value != none)
            return Error{ErrorCode::ProtocolViolation, "mem: a map onto a held frame, or of a page with one", page};
        if (m_saved[page] != nullptr) milk_shim_page_copy(m_frame_page[frame], m_saved[page]);
        else milk_shim_page_zero(m_frame_page[frame]);
        m_frame_of[page].value = frame;
        m_page_on[frame].value = page;
        ++m_resident;
        ++m_maps;
        if (kind == MILK_MEM_DECIDE_PREFETCH) ++m_prefetches;
        if (m_agent) m_waiting_since[page] = 0;
        return {};
    default: return Error{ErrorCode::ProtocolViolation, "mem: a decision of no known kind", kind};
    }
}

// A fault decided by a policy in the module, in the faulting thread.
Result<void> Region::decide_directly(DirectMemPolicy& policy, std::uint32_t page, bool write) {
    MILK_TRY(policy.event(event_fault, page, write ? 1 : 0, now_ns()));
    DirectMemDecision decisions[max_direct_decisions];
    const std::size_t count = policy.decide(decisions, max_direct_decisions);
    if (count > max_direct_decisions)
        return Error{ErrorCode::ProtocolViolation, "mem: a policy decided more than a fault needs", static_cast<std::int64_t>(count)};
    for (std::size_t i = 0; i < count; ++i) MILK_TRY(apply_decision(decisions[i].kind, decisions[i].page, decisions[i].frame));
    if (m_frame_of[page].value == none) return Error{ErrorCode::ProtocolViolation, "mem: a policy left a fault without a frame", page};
    return {};
}

// The policy is dropped for the module's FIFO. The FIFO's books start from
// an empty pool, so every resident page is saved and unmapped first: the
// books and the frames agree again, and nothing is lost (a page is only
// ever dropped after its copy is taken).
void Region::fall_back(std::uint32_t reason) {
    if (m_mode == Mode::Fallback) return;
    log(MILK_LOG_WARN, "mem: a region falls back to the module's FIFO", reason);
    for (std::uint32_t frame = 0; frame < m_frames; ++frame) {
        const std::uint32_t page = m_page_on[frame].value;
        if (page == none) continue;
        if (!evict(page, frame).ok()) log(MILK_LOG_ERR, "mem: a page could not be saved while falling back", page);
    }
    m_mode = Mode::Fallback;
    m_dropped.store(true, std::memory_order_release);
    m_fallback_reason = reason;
    m_fallback_ns = now_ns();
    if (m_agent) {
        for (std::uint32_t page = 0; page < m_pages; ++page) m_waiting_since[page] = 0;
        m_queue_count.store(0, std::memory_order_release);
    }
    changed();
    // An agent waiting for faults learns at once that there will be none.
    if (m_agent_queue != nullptr) milk_shim_queue_wake(m_agent_queue);
}

void Region::queue_for_agent(std::uint32_t page, bool write) {
    if (m_waiting_since[page] != 0) return;  // reported already: its answer is coming
    const std::uint64_t now = now_ns();
    ++m_faults;
    m_waiting_since[page] = now;
    const std::uint32_t count = m_queue_count.load(std::memory_order_relaxed);
    // Each page waits at most once, so the queue (one entry a page) has room.
    milk_mem_event& slot = m_queue[(m_queue_head + count) % m_pages];
    slot.kind = MILK_MEM_EVENT_FAULT;
    slot.page = page;
    slot.write = write ? 1 : 0;
    slot.reserved = 0;
    slot.time_ns = now;
    m_queue_count.store(count + 1, std::memory_order_release);
    milk_shim_queue_wake(m_agent_queue);
}

int Region::fault(std::uint32_t page, bool write, void* fault, unsigned int* result) {
    if (page >= m_pages) return MILK_MEM_FAULT_SIGBUS;
    MutexGuard guard(m_lock);
    if (m_frame_of[page].value == none) {
        if (m_mode == Mode::Agent) {
            queue_for_agent(page, write);
            return MILK_MEM_FAULT_QUEUED;
        }
        ++m_faults;
        if (m_mode == Mode::Direct) {
            auto decided = decide_directly(*m_policy, page, write);
            if (!decided.ok()) {
                log(MILK_LOG_WARN, decided.error().what, decided.error().detail);
                fall_back(MILK_MEM_FALLBACK_POLICY);
            }
        }
        if (m_mode == Mode::Fallback && m_frame_of[page].value == none) {
            auto decided = decide_directly(*m_fallback, page, write);
            if (!decided.ok()) {
                // The module's own FIFO failed: out of memory for a saved
                // copy (the fault fails as the kernel's own would), or a bug.
                log(MILK_LOG_ERR, decided.error().what, decided.error().detail);
                return decided.error().code == ErrorCode::OutOfMemory ? MILK_MEM_FAULT_OOM : MILK_MEM_FAULT_SIGBUS;
            }
        }
    }
    // Mapped under the lock: an eviction of this page cannot slip in
    // between the decision and the map.
    *result = milk_shim_mem_insert(fault, m_frame_page[m_frame_of[page].value]);
    return MILK_MEM_FAULT_DONE;
}

void Region::wait(std::uint32_t page) {
    if (page >= m_pages || !m_agent) return;
    for (;;) {
        GenerationWait waiting{this, 0};
        std::uint64_t since = 0;
        {
            MutexGuard guard(m_lock);
            if (m_mode != Mode::Agent || m_frame_of[page].value != none || m_waiting_since[page] == 0) return;
            since = m_waiting_since[page];
            waiting.seen = generation();
        }
        const std::uint64_t now = now_ns();
        if (now >= since + m_deadline_ns) {
            MutexGuard guard(m_lock);
            if (m_mode == Mode::Agent && m_frame_of[page].value == none && m_waiting_since[page] != 0)
                fall_back(MILK_MEM_FALLBACK_DEADLINE);
            return;
        }
        const int waited = milk_shim_queue_wait(m_faulters, MILK_WAIT_KILLABLE, &generation_moved, &waiting,
                                                    static_cast<long long>(since + m_deadline_ns - now));
        if (waited < 0) return;  // a fatal signal: the thread is going anyway
    }
}

long Region::ioctl_wait(unsigned long argument) {
    milk_mem_wait request{};
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (request.capacity < 1 || request.capacity > MILK_MEM_MAX_WAIT) return -MILK_EINVAL;
    if (request.timeout_ns != 0) {
        const int waited = milk_shim_queue_wait(m_agent_queue, MILK_WAIT_INTERRUPTIBLE, &agent_ready, this,
                                                    request.timeout_ns);
        if (waited < 0) return waited;
    }
    auto events = zeroed<milk_mem_event>(request.capacity);
    if (!events.ok()) return -MILK_ENOMEM;
    std::uint32_t count = 0;
    {
        MutexGuard guard(m_lock);
        if (m_mode != Mode::Agent) return -MILK_EPIPE;
        const std::uint32_t queued = m_queue_count.load(std::memory_order_relaxed);
        count = queued < request.capacity ? queued : request.capacity;
        for (std::uint32_t i = 0; i < count; ++i) events.value()[i] = m_queue[(m_queue_head + i) % m_pages];
        m_queue_head = (m_queue_head + count) % m_pages;
        m_queue_count.store(queued - count, std::memory_order_release);
    }
    request.count = count;
    if (count != 0 && milk_shim_copy_to_user(request.events, events.value().data(), count * sizeof(milk_mem_event)) != 0)
        return -MILK_EFAULT;
    return milk_shim_copy_to_user(argument, &request, sizeof(request));
}

long Region::ioctl_apply(unsigned long argument) {
    milk_mem_apply request{};
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (request.count > MILK_MEM_MAX_APPLY || request.reserved != 0) return -MILK_EINVAL;
    auto decisions = zeroed<milk_mem_decision>(request.count == 0 ? 1 : request.count);
    if (!decisions.ok()) return -MILK_ENOMEM;
    if (request.count != 0 &&
        milk_shim_copy_from_user(decisions.value().data(), request.decisions, request.count * sizeof(milk_mem_decision)) != 0)
        return -MILK_EFAULT;
    request.applied = 0;
    request.refused = 0;
    {
        MutexGuard guard(m_lock);
        if (m_mode != Mode::Agent) return -MILK_EPIPE;
        // In order, each against the books as the ones before left them.
        // The first one refused drops the policy: the rest are refused too,
        // and the module's FIFO serves the region from then on.
        for (std::uint32_t i = 0; i < request.count; ++i) {
            milk_mem_decision& decision = decisions.value()[i];
            if (m_mode == Mode::Agent && apply_decision(decision.kind, decision.page, decision.frame).ok()) {
                decision.result = MILK_MEM_APPLIED;
                ++request.applied;
                continue;
            }
            decision.result = MILK_MEM_REFUSED;
            ++request.refused;
            fall_back(MILK_MEM_FALLBACK_POLICY);
        }
        if (request.applied != 0) changed();
    }
    if (request.count != 0 &&
        milk_shim_copy_to_user(request.decisions, decisions.value().data(), request.count * sizeof(milk_mem_decision)) != 0)
        return -MILK_EFAULT;
    return milk_shim_copy_to_user(argument, &request, sizeof(request));
}

long Region::ioctl_fallback() {
    MutexGuard guard(m_lock);
    if (m_mode != Mode::Agent) return -MILK_EPIPE;
    fall_back(MILK_MEM_FALLBACK_ASKED);
    return 0;
}

long Region::ioctl_stats(unsigned long argument) {
    milk_mem_stats stats{};
    {
        MutexGuard guard(m_lock);
        stats.fallback = m_fallback_reason;
        stats.resident = m_resident;
        stats.faults = m_faults;
        stats.evictions = m_evictions;
        stats.maps = m_maps;
        stats.prefetches = m_prefetches;
        stats.fallback_ns = m_fallback_ns;
    }
    return milk_shim_copy_to_user(argument, &stats, sizeof(stats));
}

long create(unsigned long argument, void* mapping, Owned<Region>& created) {
    milk_mem_create request{};
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (!terminated(request.policy)) return -MILK_EINVAL;
    if (request.policy[0] != '\0') {
        // Refused like MILK_IOC_OPEN_CHANNEL refuses a component.
        const FoundComponent found = find_component(request.policy);
        if (found.entry == nullptr) return -MILK_ENOENT;
        if (found.entry->create_direct_mem == nullptr) return -MILK_EPROTONOSUPPORT;
    }
    auto region = Region::try_create(request, mapping);
    if (!region.ok()) {
        // The policy's reason for refusing (its settings, the region's size)
        // goes to the log: the errno cannot say it.
        log(MILK_LOG_INFO, region.error().what, region.error().detail);
        return region.error().code == ErrorCode::OutOfMemory ? -MILK_ENOMEM : -MILK_EINVAL;
    }
    request.region_bytes = region.value()->bytes();
    if (milk_shim_copy_to_user(argument, &request, sizeof(request)) != 0) return -MILK_EFAULT;
    created = std::move(region).value();
    return 0;
}

}  // namespace milk::kernel::mem

extern "C" int milk_core_mem_fault(void* region, unsigned long page, int write, void* fault, unsigned int* result) {
    if (page > 0xffffffffUL) return MILK_MEM_FAULT_SIGBUS;
    return static_cast<milk::kernel::mem::Region*>(region)->fault(static_cast<std::uint32_t>(page), write != 0, fault,
                                                                  result);
}

extern "C" void milk_core_mem_wait(void* region, unsigned long page) {
    if (page > 0xffffffffUL) return;
    static_cast<milk::kernel::mem::Region*>(region)->wait(static_cast<std::uint32_t>(page));
}
