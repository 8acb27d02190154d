// milk::mem::KernelRegion: the memory manager's kernel mechanism, from user
// space. milk.ko serves the region's faults with its own fault handler
// (docs/mem.md, "The kernel mechanism"): the region is mapped from
// /dev/milk, its frames are pages of the module's, and a touch of a page
// without a frame asks the region's policy which frame it gets and which
// page leaves. The policy is a memory manager component wherever the host
// placed it:
// - in milk.ko (placement "kernel"): the fault handler calls it directly,
//   in the faulting thread; no channel, no thread in this process;
// - anywhere else: this class's agent thread reads the faults the module
//   queued (MILK_IOC_MEM_WAIT), commits them to the policy over the host's
//   channel as one batch and hands the module the decisions
//   (MILK_IOC_MEM_APPLY); the faulting threads wait in the kernel.
//
//   auto region = milk::mem::KernelRegion::try_create(host, "pager", {.pages = 4096, .frames = 512}).value();
//   std::byte* memory = region->data();   // use it like any memory
//
// The module checks every decision against its own books. When the policy
// dies, misses its deadline or breaks the contract, the agent hands the
// region to the module's own FIFO (MILK_IOC_MEM_FALLBACK); when the agent
// itself stalls, the module does so when a fault has waited `deadline`. No
// page is lost either way.
#pragma once

#include <milk/host/host.hpp>
#include <milk/mem/managed_region.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace milk::mem {

struct KernelRegionOptions {
    // The region's size in pages of 4 KiB, and how many of them may have a
    // frame at once (fewer; the module takes at most 2^18 and 2^15).
    std::uint32_t pages = 0;
    std::uint32_t frames = 0;
    // How long the policy has to answer a batch (the agent's watchdog).
    std::chrono::milliseconds policy_deadline{1000};
    // How long a fault may wait for the agent before the module gives up on
    // it and serves the region with its own FIFO (the module's watchdog).
    std::chrono::milliseconds deadline{2000};
    const char* device = "/dev/milk";
};

// Why the module dropped the policy, in milk_uapi.h's terms.
enum class KernelFallback : std::uint8_t {
    None,      // it has not
    Deadline,  // a fault waited longer than the deadline (the agent stalled)
    Asked,     // the agent asked (its policy died, missed its deadline or broke the contract)
    Policy,    // a decision against the module's books, or a policy in the module refused a fault
};

struct KernelRegionStats {
    std::uint64_t faults = 0;     // faults that needed a decision
    std::uint64_t evictions = 0;  // pages saved and unmapped
    std::uint64_t maps = 0;       // pages put on a frame
    std::uint64_t prefetches = 0; // of those, put there before any thread touched them (readahead)
    std::uint32_t resident = 0;   // pages on a frame now
    KernelFallback fallback = KernelFallback::None;
    // The agent's side (zero when the policy is in milk.ko).
    std::uint64_t batches = 0;
    // Why the agent asked for the fallback, when it did.
    FallbackReason agent_reason = FallbackReason::None;
    std::optional<Error> agent_error;
};

class KernelRegion {
public:
    // The region, its policy reached over `endpoint` through an agent thread
    // of this process.
    [[nodiscard]] static Result<std::unique_ptr<KernelRegion>> try_create(MemEndpoint&& endpoint,
                                                                        const KernelRegionOptions& options);
    // The region, its policy the memory manager `component` compiled into
    // milk.ko, built from `settings`, called by the fault handler directly.
    [[nodiscard]] static Result<std::unique_ptr<KernelRegion>> try_create_in_kernel(std::string_view component,
                                                                                  const Settings& settings,
                                                                                  const KernelRegionOptions& options);
    // The policy of the host's instance `instance`, placed by its config.
    [[nodiscard]] static Result<std::unique_ptr<KernelRegion>> try_create(host::Host& host, std::string_view instance,
                                                                        const KernelRegionOptions& options);

    KernelRegion(const KernelRegion&) = delete;
    KernelRegion& operator=(const KernelRegion&) = delete;
    // Stops the agent, says Bye, unmaps the region and closes it. No thread
    // may touch the region any more.
    ~KernelRegion();

    [[nodiscard]] std::byte* data() const { return m_base; }
    [[nodiscard]] std::size_t size() const { return m_bytes; }
    [[nodiscard]] static constexpr std::size_t page_size() { return 4096; }
    // The region's fd: another process it is handed to can map it too.
    [[nodiscard]] int fd() const { return m_fd; }
    [[nodiscard]] bool policy_in_kernel() const { return m_agent == nullptr; }
    [[nodiscard]] KernelRegionStats stats() const;

    class Agent;

private:
    KernelRegion(int fd, std::byte* base, std::size_t bytes, std::unique_ptr<Agent> agent);

    int m_fd = -1;
    std::byte* m_base = nullptr;
    std::size_t m_bytes = 0;
    std::unique_ptr<Agent> m_agent;
};

}  // namespace milk::mem
