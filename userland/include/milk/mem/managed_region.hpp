// milk::mem::ManagedRegion: the user-space memory manager mechanism. A
// workload gets a region of memory whose pages live in a pool of fewer
// frames; which page has a frame is decided by a memory manager component
// (components/mem), wherever the host put it, over contracts/mem.contract.
//
//   auto region = milk::mem::ManagedRegion::try_create(
//       host.connect<milk::mem::Mem::Contract>("pager").value(),
//       {.pages = 4096, .frames = 512}).value();
//   std::byte* memory = region->data();   // use it like any memory
//
// How it is enforced (docs/mem.md has the whole story): the region is
// anonymous memory registered with userfaultfd (missing and write-protect
// modes). A touch of a page without a frame stops the thread in the kernel
// and becomes a fault event; the handler thread reads the faults that
// arrived, reports them to the policy as one batch and applies the answer:
// an eviction write-protects the page (so that no write is lost), saves it
// to the backing store and drops it (MADV_DONTNEED); a map fills the page
// from the backing store (UFFDIO_COPY) or with zeros the first time
// (UFFDIO_ZEROPAGE), without waking; then one UFFDIO_WAKE lets every
// faulting thread of the batch go on.
//
// The policy is an untrusted peer: a decision for a frame that does not hold
// the page, a map onto a full frame, more resident pages than frames, are
// refused. When the policy dies, misses its deadline or breaks the contract,
// the handler falls back at once to a FIFO of its own (the same policy
// code, run in the handler with no channel): it saves and drops every
// resident page first, so that the fallback starts from an empty pool and
// no page is lost.
#pragma once

#include <milk/result.hpp>

#include <mem.hpp>  // generated from contracts/mem.contract

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace milk::mem {

using MemEndpoint = Mem::Contract::ClientEndpoint;

struct RegionOptions {
    // The region's size in pages (of the system's page size), and how many
    // of them may have a frame at once.
    std::uint32_t pages = 0;
    std::uint32_t frames = 0;
    // How long the policy has to answer a batch before the handler gives up
    // on it and falls back (the watchdog).
    std::chrono::milliseconds policy_deadline{1000};
    // An accessed-bit sample every this many batches (0: none). A sample
    // write-protects the resident pages; the first write to each afterwards
    // costs a write-protect fault and tells the policy the page was used
    // (`accessed`), which mem_clock's second chance feeds on. Reads are not
    // seen: user space has no cheap way to the accessed bits themselves.
    std::uint32_t sample_every = 0;
    // Where evicted pages are saved: empty for memory of this process, or a
    // directory in which an unnamed file (O_TMPFILE, gone with the region)
    // holds them.
    std::string backing_directory{};
};

// Why the region stopped using its policy.
enum class FallbackReason : std::uint8_t {
    None,            // it has not
    PolicyGone,      // the channel failed: the policy's process died, or it closed
    MissedDeadline,  // no answer within policy_deadline
    BrokeContract,   // a decision the contract or the mechanism's state forbids
};

struct RegionStats {
    std::uint64_t faults = 0;       // fault events read from userfaultfd
    std::uint64_t batches = 0;      // batches the policy (or the fallback) answered
    std::uint64_t zero_fills = 0;   // first touches (UFFDIO_ZEROPAGE)
    std::uint64_t copies_in = 0;    // pages brought back from the backing store (UFFDIO_COPY)
    std::uint64_t evictions = 0;    // pages saved and dropped
    std::uint64_t samples = 0;      // accessed-bit samples taken
    std::uint32_t resident = 0;     // pages with a frame now
    FallbackReason fallback = FallbackReason::None;
    std::optional<Error> fallback_error;
};

class ManagedRegion {
public:
    // Maps the region, registers it with userfaultfd, says Hello to the
    // policy behind `endpoint` and starts the handler thread.
    [[nodiscard]] static Result<std::unique_ptr<ManagedRegion>> try_create(MemEndpoint&& endpoint,
                                                                            const RegionOptions& options);

    ManagedRegion(const ManagedRegion&) = delete;
    ManagedRegion& operator=(const ManagedRegion&) = delete;
    // Stops the handler, says Bye to the policy and unmaps the region. No
    // thread may touch the region any more.
    ~ManagedRegion();

    [[nodiscard]] std::byte* data() const;
    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t page_size() const;
    [[nodiscard]] RegionStats stats() const;

    // Gives pages `first` to `first + count - 1` up, as MADV_DONTNEED does:
    // their contents are gone (they read as zeros next time) and their
    // frames are free; the policy hears of it before its next decision.
    // Returns once the handler has dropped them. No thread may be touching
    // them meanwhile (what it wrote could survive or not).
    [[nodiscard]] Result<void> release(std::uint32_t first, std::uint32_t count);

    class Handler;

private:
    explicit ManagedRegion(std::unique_ptr<Handler> handler);
    std::unique_ptr<Handler> m_handler;
};

}  // namespace milk::mem
