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
// Accessed-bit samples (RegionOptions::sample_every, ::sample) tell the
// policy which pages were used: writes through write protection, or reads
// and writes through a soft unmap (the page saved and dropped, its frame
// kept, mapped back by the handler alone at its next access).
//
// Several regions may share one pool of frames (ManagedPool, then
// ManagedRegion::try_attach): one handler and one channel serve them all,
// and the policy hears of each region as a tenant with a weight.
//
// The policy is an untrusted peer: a decision for a frame that does not hold
// the page, a map onto a full frame, more resident pages than frames, are
// refused. When the policy dies, misses its deadline or breaks the contract,
// the handler falls back at once to a FIFO of its own (the same policy
// code, run in the handler with no channel): it saves and drops every
// resident page first, so that the fallback starts from an empty pool and
// no page is lost.
#pragma once

#include <milk/host/host.hpp>
#include <milk/result.hpp>

#include <mem.hpp>  // generated from contracts/mem.contract

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace milk::mem {

using MemEndpoint = Mem::Contract::ClientEndpoint;

// What an accessed-bit sample sees (RegionOptions::sample).
enum class Sample : std::uint8_t {
    // Writes only: a sample write-protects the resident pages, and the first
    // write to each afterwards (a write-protect fault, the protection lifted
    // at once) says it was used. Reads go unseen, as with soft-dirty bits.
    Writes,
    // Reads and writes, as Linux's NUMA-balancing hinting faults see them:
    // a sample saves each resident page and drops it (MADV_DONTNEED) while
    // its frame stays counted as held (a "soft" unmap); the next access of
    // any kind faults, and the handler maps the page back from its saved
    // copy without asking the policy and reports it accessed. It costs a
    // page copy per resident page per sample and a fault per page used.
    ReadsAndWrites,
};

struct RegionOptions {
    // The region's size in pages (of the system's page size), and how many
    // of them may have a frame at once.
    std::uint32_t pages = 0;
    std::uint32_t frames = 0;
    // How long the policy has to answer a batch before the handler gives up
    // on it and falls back (the watchdog).
    std::chrono::milliseconds policy_deadline{1000};
    // An accessed-bit sample every this many batches (0: none): the pages
    // used since the last sample are reported `accessed` (mem_clock's
    // reference bits, mem_lru's ages), and each sample is reported as a
    // `round`. User space has no cheap way to the accessed bits themselves;
    // `sample` says how they are approximated.
    std::uint32_t sample_every = 0;
    Sample sample = Sample::Writes;
    // Where evicted pages are saved: empty for memory of this process, or a
    // directory in which an unnamed file (O_TMPFILE, gone with the region)
    // holds them.
    std::string backing_directory{};
};

// A pool of frames that several regions share (ManagedRegion::try_attach),
// each region a tenant with a weight: one userfaultfd, one handler thread and
// one channel to the policy for all of them. The policy sees one range of
// pages, the regions' pages numbered in the order they attached, and hears
// of each region as a `tenant` (its first page and weight) before any of its
// faults: mem_fair shares the frames between the tenants by weight.
struct PoolOptions {
    // How many pages every region attached may have in all (the policy's
    // region: its Hello), and the frames they share.
    std::uint32_t pages = 0;
    std::uint32_t frames = 0;
    // As RegionOptions's, for every region of the pool.
    std::chrono::milliseconds policy_deadline{1000};
    std::uint32_t sample_every = 0;
    Sample sample = Sample::Writes;
    std::string backing_directory{};
};

struct TenantOptions {
    // The region's size in pages, and its weight (1 to 2^20): a region of
    // weight 3 is owed three times the frames of a region of weight 1
    // (under mem_fair).
    std::uint32_t pages = 0;
    std::uint32_t weight = 1;
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
    std::uint64_t soft_unmaps = 0;  // pages a sample dropped while keeping their frames (Sample::ReadsAndWrites)
    std::uint64_t sample_faults = 0;  // accesses to those pages, mapped back without the policy
    std::uint64_t write_faults = 0;   // faults of a missing page by a write (reported as such to the policy)
    std::uint64_t prefetches = 0;     // pages the policy mapped before any thread touched them
    std::uint64_t reclaimed = 0;      // pages evicted for reclaim() (memory pressure)
    // Pages with a frame now: the region's own (a region of a shared pool
    // counts only its pages; the counters above are the pool's).
    std::uint32_t resident = 0;
    FallbackReason fallback = FallbackReason::None;
    std::optional<Error> fallback_error;
    // The handler calls the policy itself (an inproc instance, through
    // try_create(host, ...)), or its fallback; false while a channel serves.
    bool policy_called_directly = false;
};

class ManagedPool {
public:
    // Reserves the pages, registers them with userfaultfd, says Hello to the
    // policy behind `endpoint` (pages, frames) and starts the handler thread.
    [[nodiscard]] static Result<std::shared_ptr<ManagedPool>> try_create(MemEndpoint&& endpoint,
                                                                         const PoolOptions& options);
    // The policy of the host's instance `instance`, placed by its config:
    // in this process (`inproc`) the handler calls the component itself, no
    // channel and no thread of its own (ComponentType::direct_mem);
    // anywhere else over the host's channel, as above.
    [[nodiscard]] static Result<std::shared_ptr<ManagedPool>> try_create(host::Host& host, std::string_view instance,
                                                                         const PoolOptions& options);

    ManagedPool(const ManagedPool&) = delete;
    ManagedPool& operator=(const ManagedPool&) = delete;
    // Stops the handler, says Bye and unmaps every page. The regions
    // attached keep the pool alive: it goes with the last of them.
    ~ManagedPool();

    // The pool's counters; `resident` is every region's pages with a frame.
    [[nodiscard]] RegionStats stats() const;

    // Memory pressure: `frames` frames back now. The policy evicts that
    // many resident pages of its choice (the contract's `pressure` event),
    // whose memory goes back to the system; the frames stay free until
    // faults fill them. Returns once the evictions are done.
    [[nodiscard]] Result<void> reclaim(std::uint32_t frames);

    class Handler;

private:
    friend class ManagedRegion;
    explicit ManagedPool(std::unique_ptr<Handler> handler);
    std::unique_ptr<Handler> m_handler;
};

class ManagedRegion {
public:
    // A region with a pool of its own: maps the region, registers it with
    // userfaultfd, says Hello to the policy behind `endpoint` and starts the
    // handler thread.
    [[nodiscard]] static Result<std::unique_ptr<ManagedRegion>> try_create(MemEndpoint&& endpoint,
                                                                            const RegionOptions& options);
    // A region with a pool of its own whose policy is the host's instance
    // `instance` (ManagedPool::try_create(host, ...): called directly when
    // it is placed in this process).
    [[nodiscard]] static Result<std::unique_ptr<ManagedRegion>> try_create(host::Host& host, std::string_view instance,
                                                                            const RegionOptions& options);
    // A region of `options.pages` pages in a pool shared with other
    // regions, a tenant of weight `options.weight`: its pages are the pool's
    // next ones. Fails when the pool has not that many pages left, or has
    // fifteen tenants already (what a memory manager takes).
    [[nodiscard]] static Result<std::unique_ptr<ManagedRegion>> try_attach(std::shared_ptr<ManagedPool> pool,
                                                                            const TenantOptions& options);

    ManagedRegion(const ManagedRegion&) = delete;
    ManagedRegion& operator=(const ManagedRegion&) = delete;
    // A region of its own pool: stops the handler, says Bye to the policy
    // and unmaps the region. A region of a shared pool gives its pages up
    // (release) so that its frames go to the other tenants. No thread may
    // touch the region any more.
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
    // Memory pressure on the region's pool (ManagedPool::reclaim).
    [[nodiscard]] Result<void> reclaim(std::uint32_t frames);

private:
    ManagedRegion(std::shared_ptr<ManagedPool> pool, std::uint32_t first, std::uint32_t pages, std::uint32_t tenant,
                  bool shared);
    std::shared_ptr<ManagedPool> m_pool;
    std::uint32_t m_first;
    std::uint32_t m_pages;
    std::uint32_t m_tenant;
    bool m_shared;
};

}  // namespace milk::mem
