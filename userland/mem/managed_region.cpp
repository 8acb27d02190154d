// The user-space memory manager mechanism (milk/mem/managed_region.hpp):
// userfaultfd in missing and write-protect modes, a handler thread that
// batches faults for the policy, and a FIFO of its own to fall back on.
#include <milk/mem/managed_region.hpp>

#include "mem/mem_client.hpp"
#include "mem/mem_component.hpp"
#include "process_internal.hpp"  // FileDescriptor

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace milk::mem {
namespace {

using components::mem::MemClient;
using milk::process::detail::FileDescriptor;
using Fallback = milk::host::DirectPagerPolicy<components::mem::Pager<components::policy::FifoRule>>;

constexpr std::uint32_t none = 0xffffffffu;

Error system_error(const char* what) { return Error{ErrorCode::SystemError, what, errno}; }

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// A userfaultfd for this process's user-mode faults. Privileged processes
// (and systems with vm.unprivileged_userfaultfd = 1) get one that also
// resolves faults the kernel takes on the region (a read() into it, say);
// otherwise UFFD_USER_MODE_ONLY, which is all a workload's own loads and
// stores need.
Result<FileDescriptor> open_userfaultfd() {
    int fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (fd < 0 && errno == EPERM)
        fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
    if (fd < 0) return system_error("mem: userfaultfd");
    FileDescriptor uffd(fd);
    uffdio_api api{};
    api.api = UFFD_API;
    // Write-protect faults on anonymous memory: an eviction write-protects
    // the page while it saves it, so that no write is lost.
    api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
    if (::ioctl(uffd.get(), UFFDIO_API, &api) != 0)
        return system_error("mem: UFFDIO_API (this kernel lacks write-protect faults on anonymous memory)");
    return uffd;
}

// Where evicted pages live: memory of this process, or an unnamed file
// (O_TMPFILE) in a directory, so that a region larger than memory can be
// served. Failures of the file are the mechanism's own (a full disk): the
// handler stops the process with the reason rather than lose a page.
class BackingStore {
public:
    static Result<BackingStore> try_create(const std::string& directory, std::size_t pages, std::size_t page) {
        BackingStore store;
        store.m_page = page;
        if (directory.empty()) {
            store.m_memory.resize(pages * page);
            return store;
        }
        const int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) return Error{ErrorCode::SystemError, "mem: cannot make the backing file (O_TMPFILE) in that directory", errno};
        store.m_file = FileDescriptor(fd);
        if (::ftruncate(fd, static_cast<off_t>(pages * page)) != 0)
            return Error{ErrorCode::SystemError, "mem: cannot size the backing file", errno};
        store.m_staging.resize(page);
        return store;
    }

    // Saves `page` from `from` (one page).
    [[nodiscard]] bool save(std::size_t page, const std::byte* from) {
        if (!m_file.valid()) {
            std::memcpy(m_memory.data() + page * m_page, from, m_page);
            return true;
        }
        return transfer(page, const_cast<std::byte*>(from), Direction::Out);
    }

    // The saved copy of `page`, valid until the next load.
    [[nodiscard]] const std::byte* load(std::size_t page) {
        if (!m_file.valid()) return m_memory.data() + page * m_page;
        return transfer(page, m_staging.data(), Direction::In) ? m_staging.data() : nullptr;
    }

private:
    enum class Direction : std::uint8_t { In, Out };

    bool transfer(std::size_t page, std::byte* buffer, Direction direction) {
        std::size_t done = 0;
        while (done < m_page) {
            const auto offset = static_cast<off_t>(page * m_page + done);
            const ssize_t moved = direction == Direction::Out ? ::pwrite(m_file.get(), buffer + done, m_page - done, offset)
                                                              : ::pread(m_file.get(), buffer + done, m_page - done, offset);
            if (moved < 0 && errno == EINTR) continue;
            if (moved <= 0) return false;
            done += static_cast<std::size_t>(moved);
        }
        return true;
    }

    std::size_t m_page = 0;
    std::vector<std::byte> m_memory;
    FileDescriptor m_file;
    std::vector<std::byte> m_staging;
};

}  // namespace

// The most regions one pool serves: the tenants a memory manager takes
// (components/mem: max_tenants).
constexpr std::uint32_t max_regions = components::mem::max_tenants;

class ManagedPool::Handler {
public:
    Handler(std::byte* base, std::size_t page, const PoolOptions& options, FileDescriptor uffd, FileDescriptor control,
            BackingStore store)
        : m_base(base), m_page(page), m_options(options), m_uffd(std::move(uffd)), m_control(std::move(control)),
          m_store(std::move(store)), m_saved(options.pages, 0), m_frame_of(options.pages, none),
          m_page_on(options.frames, none), m_sampled(options.pages, 0), m_accessed(options.pages, 0),
          m_soft(options.pages, 0), m_write_fault(options.pages, 0), m_region_of(options.pages, 0) {
        for (std::atomic<std::uint32_t>& resident : m_region_resident) resident.store(0, std::memory_order_relaxed);
    }

    ~Handler() {
        stop();
        if (m_remote) static_cast<void>(m_remote->bye());
        ::munmap(m_base, size());
    }

    // A policy placed in this process, called by the handler itself (no
    // channel, no other thread): the component's books for the pool.
    void use_directly(std::unique_ptr<milk::host::DirectMemPolicy> policy) {
        m_local = std::move(policy);
        m_local_is_fallback = false;
        const std::lock_guard lock(m_stats_mutex);
        m_stats.policy_called_directly = true;
    }

    Result<void> connect(MemEndpoint&& endpoint) {
        auto client = MemClient::try_connect(std::move(endpoint), {m_options.pages, m_options.frames},
                                             m_options.policy_deadline, max_batch() + m_options.frames + 64);
        if (!client.ok()) return client.error();
        m_remote.emplace(std::move(client).value());
        return {};
    }

    void start() { m_thread = std::thread([this] { run(); }); }

    void stop() {
        if (!m_thread.joinable()) return;
        {
            const std::lock_guard lock(m_requests_mutex);
            m_stopping = true;
        }
        ring();
        m_thread.join();
    }

    // The workload gives pages up (as MADV_DONTNEED would): the handler drops
    // them, forgets their saved copies (they read as zeros next time) and
    // tells the policy their frames are free. Returns once that is done.
    Result<void> release(std::uint32_t first, std::uint32_t count) {
        if (count == 0 || std::uint64_t{first} + count > m_options.pages)
            return Error{ErrorCode::InvalidArgument, "mem: a released range outside the region", first};
        std::unique_lock lock(m_requests_mutex);
        m_releases.push_back({first, count});
        const std::uint64_t ticket = ++m_requested;
        lock.unlock();
        ring();
        lock.lock();
        m_released_cv.wait(lock, [&] { return m_completed >= ticket; });
        return {};
    }

    // Memory pressure: the policy evicts `frames` pages of its choice.
    // Returns once that is done.
    Result<void> reclaim(std::uint32_t frames) {
        if (frames == 0 || frames > m_options.frames)
            return Error{ErrorCode::InvalidArgument, "mem: reclaim 1 to the pool's frames", frames};
        std::unique_lock lock(m_requests_mutex);
        m_reclaims += frames;
        const std::uint64_t ticket = ++m_requested;
        lock.unlock();
        ring();
        lock.lock();
        m_released_cv.wait(lock, [&] { return m_completed >= ticket; });
        return {};
    }

    // A region of `pages` pages: the pool's next ones, a tenant of weight
    // `weight` the policy hears of before any fault of its pages when
    // `declare` (a pool's own single region is not declared: its policy
    // sees the protocol as it was before pools). Returns its first page and
    // its number among the pool's regions.
    struct Attached {
        std::uint32_t first;
        std::uint32_t region;
    };
    Result<Attached> attach(std::uint32_t pages, std::uint32_t weight, bool declare) {
        if (pages == 0 || weight == 0 || weight > components::policy::TenantShareRule::max_weight)
            return Error{ErrorCode::InvalidArgument, "mem: a region needs pages and a weight of 1 to 2^20", weight};
        std::unique_lock lock(m_requests_mutex);
        if (std::uint64_t{m_next_page} + pages > m_options.pages)
            return Error{ErrorCode::InvalidArgument, "mem: the pool has not that many pages left", m_options.pages - m_next_page};
        if (m_regions == max_regions)
            return Error{ErrorCode::InvalidArgument, "mem: the pool has as many regions as a memory manager takes", m_regions};
        const Attached attached{m_next_page, m_regions};
        m_next_page += pages;
        ++m_regions;
        m_attaches.push_back({attached.first, pages, weight, attached.region, declare});
        const std::uint64_t ticket = ++m_requested;
        lock.unlock();
        ring();
        lock.lock();
        m_released_cv.wait(lock, [&] { return m_completed >= ticket; });
        return attached;
    }

    [[nodiscard]] std::uint32_t resident_of(std::uint32_t region) const {
        return m_region_resident[region].load(std::memory_order_relaxed);
    }

    [[nodiscard]] std::byte* data() const { return m_base; }
    [[nodiscard]] std::size_t size() const { return std::size_t{m_options.pages} * m_page; }
    [[nodiscard]] std::size_t page_size() const { return m_page; }
    [[nodiscard]] RegionStats stats() const {
        const std::lock_guard lock(m_stats_mutex);
        return m_stats;
    }

private:
    // At most as many faults a batch as there are frames: a batch that
    // asked for more would evict some of its own faults' pages before their
    // threads ran, and they would fault again.
    [[nodiscard]] std::uint32_t max_batch() const { return std::min<std::uint32_t>(m_options.frames, 1024); }

    // The handler's own doorbell: a request (a release, or stop) waits.
    void ring() {
        const std::uint64_t one = 1;
        static_cast<void>(::write(m_control.get(), &one, sizeof one));
    }

    struct Release {
        std::uint32_t first;
        std::uint32_t count;
    };
    struct Attach {
        std::uint32_t first;
        std::uint32_t count;
        std::uint32_t weight;
        std::uint32_t region;
        bool declare;
    };

    // Takes the requests waiting; false when the handler must stop.
    bool serve_requests() {
        std::uint64_t drained = 0;
        static_cast<void>(::read(m_control.get(), &drained, sizeof drained));
        std::vector<Release> releases;
        std::vector<Attach> attaches;
        std::uint64_t requested = 0;
        std::uint32_t reclaims = 0;
        {
            const std::lock_guard lock(m_requests_mutex);
            if (m_stopping) return false;
            releases.swap(m_releases);
            attaches.swap(m_attaches);
            reclaims = std::exchange(m_reclaims, 0);
            requested = m_requested;
        }
        for (const Attach& attach : attaches) attach_pages(attach);
        for (const Release& release : releases) release_pages(release);
        if (reclaims != 0) reclaim_frames(std::min(reclaims, m_options.frames));
        {
            const std::lock_guard lock(m_requests_mutex);
            m_completed = requested;
        }
        m_released_cv.notify_all();
        return true;
    }

    // A region's pages join the pool; the policy hears of a declared one
    // (its tenant) before the next batch's faults, which are the first its
    // pages can have.
    void attach_pages(const Attach& attach) {
        for (std::uint32_t page = attach.first; page < attach.first + attach.count; ++page)
            m_region_of[page] = static_cast<std::uint8_t>(attach.region);
        if (!attach.declare) return;
        const milk::mem::Event event{milk::mem::EventKind::tenant, attach.first, attach.weight};
        // As a release: a fallback made now starts from an empty pool and
        // needs no tenants (it is a FIFO); one made before hears of it.
        tell(event, "mem: the fallback refused a region");
    }

    // A batch of its own, without faults: the pressure event, the policy's
    // evictions applied (checked as any batch's), the threads their
    // evictions stopped woken.
    void reclaim_frames(std::uint32_t frames) {
        const std::uint64_t evicted_before = stats().evictions;
        auto decided = decide({}, frames);
        if (!decided.ok()) {
            fall_back(decided.error());
            decided = decide({}, frames);
        }
        if (decided.ok()) apply(decided.value());
        wake_all();
        const std::lock_guard lock(m_stats_mutex);
        m_stats.reclaimed += m_stats.evictions - evicted_before;
        m_stats.resident = m_resident;
    }

    // An event outside a batch of faults (a tenant, a release): the remote
    // policy hears of it with the next batch, a local one at once. A policy
    // that refuses it is dropped; the fallback refusing one is our bug.
    void tell(const milk::mem::Event& event, const char* fallback_refused) {
        if (m_remote) {
            if (auto reported = m_remote->report(event); !reported.ok()) fall_back(reported.error());
        } else if (m_local) {
            if (auto applied = local_event(event, now_ns()); !applied.ok()) {
                if (m_local_is_fallback) die(fallback_refused);
                fall_back(applied.error());
            }
        }
    }

    Result<void> local_event(const milk::mem::Event& event, std::uint64_t now) {
        return m_local->event(static_cast<std::uint8_t>(event.kind), event.page, event.count, now);
    }

    void release_pages(const Release& release) {
        for (std::uint32_t page = release.first; page < release.first + release.count; ++page) {
            m_saved[page] = 0;
            m_sampled[page] = 0;
            m_accessed[page] = 0;
            if (m_frame_of[page] == none) continue;
            std::byte* address = m_base + std::size_t{page} * m_page;
            if (m_soft[page] == 0 && ::madvise(address, m_page, MADV_DONTNEED) != 0) die("mem: madvise(MADV_DONTNEED)");
            m_soft[page] = 0;
            m_page_on[m_frame_of[page]] = none;
            m_frame_of[page] = none;
            note_resident(page, -1);
        }
        const milk::mem::Event event{milk::mem::EventKind::release, release.first, release.count};
        // The policy hears of it with the next batch, before that batch's
        // faults; the fallback at once.
        tell(event, "mem: the fallback refused a release");
        const std::lock_guard lock(m_stats_mutex);
        m_stats.resident = m_resident;
    }

    void run() {
        pollfd fds[2] = {{m_uffd.get(), POLLIN, 0}, {m_control.get(), POLLIN, 0}};
        std::vector<uffd_msg> messages(64);
        for (;;) {
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if ((fds[1].revents & POLLIN) != 0 && !serve_requests()) return;
            for (;;) {
                const ssize_t got = ::read(m_uffd.get(), messages.data(), messages.size() * sizeof(uffd_msg));
                if (got <= 0) break;  // EAGAIN: read them all
                for (std::size_t i = 0; i < static_cast<std::size_t>(got) / sizeof(uffd_msg); ++i) note(messages[i]);
            }
            while (!m_waiting.empty()) serve_waiting();
        }
    }

    // One message: a missing-page fault waits for a frame. A write-protect
    // fault is either the first write to a resident page since the last
    // sample (it was used: lift the protection, which wakes the writer, and
    // tell the policy with the next batch), or a write to a page being
    // evicted (woken once the eviction is done, when it faults again as a
    // missing page).
    void note(const uffd_msg& message) {
        if (message.event != UFFD_EVENT_PAGEFAULT) return;
        // In integers: the address is the kernel's, never dereferenced.
        const std::uint64_t base = reinterpret_cast<std::uintptr_t>(m_base);
        const std::uint64_t address = message.arg.pagefault.address;
        if (address < base || address - base >= size()) return;
        const auto page = static_cast<std::uint32_t>((address - base) / m_page);
        {
            const std::lock_guard lock(m_stats_mutex);
            ++m_stats.faults;
        }
        if ((message.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) != 0) {
            if (m_frame_of[page] != none && m_sampled[page] != 0) {
                m_sampled[page] = 0;
                note_accessed(page);
                write_protect(page, 1, Protection::Lift);
                return;
            }
            m_wake_needed = true;
            return;
        }
        if (m_soft[page] != 0) {
            map_back(page);
            return;
        }
        if ((message.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0) {
            m_write_fault[page] = 1;
            const std::lock_guard lock(m_stats_mutex);
            ++m_stats.write_faults;
        }
        if (std::find(m_waiting.begin(), m_waiting.end(), page) == m_waiting.end()) m_waiting.push_back(page);
    }

    // An access to a page a sample dropped softly (Sample::ReadsAndWrites):
    // it still holds its frame, so the policy is not asked; its saved copy
    // goes back (waking the threads that faulted on it), and the policy
    // hears with the next batch that it was used.
    void map_back(std::uint32_t page) {
        std::byte* address = m_base + std::size_t{page} * m_page;
        const std::byte* saved_copy = m_store.load(page);
        if (saved_copy == nullptr) die("mem: reading a page back from the backing file");
        for (;;) {
            uffdio_copy copy{};
            copy.dst = reinterpret_cast<std::uintptr_t>(address);
            copy.src = reinterpret_cast<std::uintptr_t>(saved_copy);
            copy.len = m_page;
            copy.mode = 0;
            if (::ioctl(m_uffd.get(), UFFDIO_COPY, &copy) == 0) break;
            if (errno != EAGAIN) die("mem: UFFDIO_COPY of a softly dropped page");
        }
        m_soft[page] = 0;
        note_accessed(page);
        const std::lock_guard lock(m_stats_mutex);
        ++m_stats.sample_faults;
    }

    // One batch: the waiting faults (those that still lack a frame), the
    // policy's answer applied, one wake for everyone.
    void serve_waiting() {
        std::vector<std::uint32_t> faults;
        for (const std::uint32_t page : m_waiting)
            if (m_frame_of[page] == none && faults.size() < max_batch()) faults.push_back(page);
        if (!faults.empty()) {
            auto decided = decide(faults);
            if (!decided.ok()) {
                fall_back(decided.error());
                decided = decide(faults);
            }
            if (decided.ok()) apply(decided.value());
        }
        {
            // Before the wake: a thread that goes on sees its batch counted.
            const std::lock_guard lock(m_stats_mutex);
            ++m_stats.batches;
            m_stats.resident = m_resident;
        }
        if (m_options.sample_every != 0 && ++m_since_sample >= m_options.sample_every) sample();
        wake_all();
        // Those still without a frame go in the next batch.
        std::erase_if(m_waiting, [this](std::uint32_t page) { return m_frame_of[page] != none; });
    }

    // The decisions on one batch of faults, checked against the frames:
    // evictions of the page each frame holds, then maps onto empty frames
    // of pages without one, never more than the pool.
    Result<std::vector<milk::mem::Decision>> decide(const std::vector<std::uint32_t>& faults, std::uint32_t pressure = 0) {
        std::vector<milk::mem::Decision> decisions;
        // What was used since the last sample, before the faults: the
        // policy's victims are chosen knowing it.
        // Only the pages noted since the last batch, not a scan of the
        // region: a batch costs what happened, not the region's size.
        std::vector<std::uint32_t> used;
        std::sort(m_accessed_since.begin(), m_accessed_since.end());
        for (const std::uint32_t page : m_accessed_since) {
            if (m_accessed[page] == 0) continue;  // evicted or released since
            m_accessed[page] = 0;
            if (m_frame_of[page] != none) used.push_back(page);
        }
        m_accessed_since.clear();
        // A sample since the last batch closes the round of the accessed
        // events reported before it (every one of them: a batch reports all
        // the pages used since the one before, and the sample comes after
        // a batch): an aging policy folds them into its ages now.
        const bool round = m_round_pending;
        m_round_pending = false;
        if (m_remote) {
            if (round) MILK_TRY(m_remote->report({milk::mem::EventKind::round, 0, 0}));
            for (const std::uint32_t page : used) MILK_TRY(m_remote->report({milk::mem::EventKind::accessed, page, 0}));
            for (const std::uint32_t page : faults)
                MILK_TRY(m_remote->report({milk::mem::EventKind::fault, page, m_write_fault[page]}));
            if (pressure != 0) MILK_TRY(m_remote->report({milk::mem::EventKind::pressure, 0, pressure}));
            auto answer = m_remote->commit(now_ns(), m_options.policy_deadline);
            if (!answer.ok()) return answer.error();
            decisions.assign(answer.value().begin(), answer.value().end());
        } else {
            const std::uint64_t now = now_ns();
            if (round) MILK_TRY(local_event({milk::mem::EventKind::round, 0, 0}, now));
            for (const std::uint32_t page : used) MILK_TRY(local_event({milk::mem::EventKind::accessed, page, 0}, now));
            for (const std::uint32_t page : faults)
                MILK_TRY(local_event({milk::mem::EventKind::fault, page, m_write_fault[page]}, now));
            if (pressure != 0) MILK_TRY(local_event({milk::mem::EventKind::pressure, 0, pressure}, now));
            // A batch changes each frame at most twice (an eviction, a map).
            m_local_decisions.resize(2 * std::size_t{m_options.frames});
            const std::size_t count = m_local->decide(m_local_decisions.data(), m_local_decisions.size());
            if (count > m_local_decisions.size())
                return Error{ErrorCode::ProtocolViolation, "mem: more decisions than a batch can need",
                             static_cast<std::int64_t>(count)};
            for (std::size_t i = 0; i < count; ++i) {
                const milk::host::DirectMemDecision& decided = m_local_decisions[i];
                if (decided.kind < 1 || decided.kind > 3)
                    return Error{ErrorCode::ProtocolViolation, "mem: a decision of no known kind", decided.kind};
                if (decided.page >= m_options.pages || decided.frame >= m_options.frames)
                    return Error{ErrorCode::ProtocolViolation, "mem: a decision outside the pool", decided.page};
                decisions.push_back({static_cast<milk::mem::DecisionKind>(decided.kind), decided.page, decided.frame});
            }
        }
        MILK_TRY(check(decisions));
        return decisions;
    }

    Result<void> check(const std::vector<milk::mem::Decision>& decisions) const {
        std::vector<std::uint32_t> page_on = m_page_on;
        std::vector<std::uint32_t> frame_of = m_frame_of;
        for (const milk::mem::Decision& decision : decisions) {
            const std::uint32_t page = decision.page;
            const std::uint32_t frame = decision.frame;
            if (decision.kind == milk::mem::DecisionKind::evict) {
                if (page_on[frame] != page)
                    return Error{ErrorCode::ProtocolViolation, "mem: an eviction of a page the frame does not hold", page};
                page_on[frame] = none;
                frame_of[page] = none;
            } else {
                if (page_on[frame] != none)
                    return Error{ErrorCode::ProtocolViolation, "mem: a map onto a frame that holds a page", frame};
                if (frame_of[page] != none)
                    return Error{ErrorCode::ProtocolViolation, "mem: a map of a page that has a frame", page};
                page_on[frame] = page;
                frame_of[page] = frame;
            }
        }
        return {};
    }

    void apply(const std::vector<milk::mem::Decision>& decisions) {
        // check() put the evictions of each frame before its map; doing all
        // evictions first keeps the pool within its frames throughout.
        for (const milk::mem::Decision& decision : decisions)
            if (decision.kind == milk::mem::DecisionKind::evict) evict(decision.page);
        // A prefetch is a map no thread waits for: the page is there when
        // the first one touches it.
        for (const milk::mem::Decision& decision : decisions) {
            if (decision.kind == milk::mem::DecisionKind::evict) continue;
            map(decision.page, decision.frame);
            if (decision.kind == milk::mem::DecisionKind::prefetch) {
                const std::lock_guard lock(m_stats_mutex);
                ++m_stats.prefetches;
            }
        }
    }

    // Saves the page and drops it. Write-protected first: a thread writing
    // it meanwhile stops in the kernel (a write-protect fault) until the
    // wake after the batch, and then finds the page missing.
    // A page a sample dropped softly is saved and gone already (any access
    // since would have mapped it back): only the books change.
    void evict(std::uint32_t page) {
        std::byte* address = m_base + std::size_t{page} * m_page;
        m_sampled[page] = 0;
        m_accessed[page] = 0;
        if (m_soft[page] == 0) {
            write_protect(page, 1, Protection::Set);
            if (!m_store.save(page, address)) die("mem: saving a page to the backing file");
            m_saved[page] = 1;
            if (::madvise(address, m_page, MADV_DONTNEED) != 0) die("mem: madvise(MADV_DONTNEED)");
        }
        m_soft[page] = 0;
        m_page_on[m_frame_of[page]] = none;
        m_frame_of[page] = none;
        note_resident(page, -1);
        m_wake_needed = true;
        const std::lock_guard lock(m_stats_mutex);
        ++m_stats.evictions;
    }

    // Fills the page (its saved copy, or zeros the first time) without
    // waking its threads: one wake after the batch lets them all go.
    void map(std::uint32_t page, std::uint32_t frame) {
        std::byte* address = m_base + std::size_t{page} * m_page;
        const bool saved = m_saved[page] != 0;
        for (;;) {
            int status = 0;
            if (saved) {
                uffdio_copy copy{};
                copy.dst = reinterpret_cast<std::uintptr_t>(address);
                const std::byte* saved_copy = m_store.load(page);
                if (saved_copy == nullptr) die("mem: reading a page back from the backing file");
                copy.src = reinterpret_cast<std::uintptr_t>(saved_copy);
                copy.len = m_page;
                copy.mode = UFFDIO_COPY_MODE_DONTWAKE;
                status = ::ioctl(m_uffd.get(), UFFDIO_COPY, &copy);
            } else {
                uffdio_zeropage zero{};
                zero.range = {reinterpret_cast<std::uintptr_t>(address), m_page};
                zero.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE;
                status = ::ioctl(m_uffd.get(), UFFDIO_ZEROPAGE, &zero);
            }
            // EAGAIN: the address space changed under the call; try again.
            if (status == 0 || errno != EAGAIN) break;
        }
        if (errno == EEXIST) die("mem: a page the handler had dropped was present");
        m_frame_of[page] = frame;
        m_page_on[frame] = page;
        m_write_fault[page] = 0;
        note_resident(page, +1);
        m_wake_needed = true;
        const std::lock_guard lock(m_stats_mutex);
        ++(saved ? m_stats.copies_in : m_stats.zero_fills);
    }

    enum class Protection : std::uint8_t { Set, Lift };

    // Write-protects pages (or lifts it, which wakes their writers).
    void write_protect(std::uint32_t first, std::uint32_t count, Protection protection) {
        uffdio_writeprotect protect{};
        protect.range = {reinterpret_cast<std::uintptr_t>(m_base + std::size_t{first} * m_page),
                         std::size_t{count} * m_page};
        protect.mode = protection == Protection::Set ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
        if (::ioctl(m_uffd.get(), UFFDIO_WRITEPROTECT, &protect) != 0) die("mem: UFFDIO_WRITEPROTECT");
    }

    // An accessed-bit sample: user space cannot read the page tables'
    // accessed bits, so every resident page is write-protected and its
    // first write afterwards says it was used (Sample::Writes: reads go
    // unseen, as with soft-dirty bits), or every resident page is saved and
    // dropped while keeping its frame, and its first access of any kind
    // afterwards says it was used (Sample::ReadsAndWrites, as NUMA
    // balancing's hinting faults). The write protection comes first either
    // way: a thread writing a page while it is saved stops in the kernel
    // (woken after the batch, it finds the page missing and faults again),
    // so no write lands in a copy already taken.
    void sample() {
        m_since_sample = 0;
        m_round_pending = true;
        write_protect(0, m_options.pages, Protection::Set);
        std::uint64_t dropped = 0;
        for (std::uint32_t page = 0; page < m_options.pages; ++page) {
            const bool resident = m_frame_of[page] != none;
            if (m_options.sample == Sample::Writes) {
                m_sampled[page] = resident;
                continue;
            }
            if (!resident || m_soft[page] != 0) continue;
            std::byte* address = m_base + std::size_t{page} * m_page;
            if (!m_store.save(page, address)) die("mem: saving a page to the backing file");
            m_saved[page] = 1;
            if (::madvise(address, m_page, MADV_DONTNEED) != 0) die("mem: madvise(MADV_DONTNEED)");
            m_soft[page] = 1;
            ++dropped;
        }
        if (dropped > 0) m_wake_needed = true;
        const std::lock_guard lock(m_stats_mutex);
        ++m_stats.samples;
        m_stats.soft_unmaps += dropped;
    }

    // A page gained (+1) or lost (-1) its frame: the pool's count and its
    // region's.
    void note_resident(std::uint32_t page, int change) {
        m_resident = static_cast<std::uint32_t>(static_cast<int>(m_resident) + change);
        std::atomic<std::uint32_t>& region = m_region_resident[m_region_of[page]];
        region.store(static_cast<std::uint32_t>(static_cast<int>(region.load(std::memory_order_relaxed)) + change),
                     std::memory_order_relaxed);
    }

    void note_accessed(std::uint32_t page) {
        if (m_accessed[page] == 0) m_accessed_since.push_back(page);
        m_accessed[page] = 1;
    }

    void wake_all() {
        if (!m_wake_needed) return;
        m_wake_needed = false;
        uffdio_range range{reinterpret_cast<std::uintptr_t>(m_base), size()};
        if (::ioctl(m_uffd.get(), UFFDIO_WAKE, &range) != 0) die("mem: UFFDIO_WAKE");
    }

    // The policy failed: close its channel, save and drop every resident
    // page (the fallback's books start from an empty pool, so that they
    // agree with the frames), and go on with a FIFO of our own.
    void fall_back(const Error& error) {
        const FallbackReason reason = error.code == ErrorCode::TimedOut            ? FallbackReason::MissedDeadline
                                      : error.code == ErrorCode::ProtocolViolation ? FallbackReason::BrokeContract
                                                                                   : FallbackReason::PolicyGone;
        m_remote.reset();
        for (std::uint32_t page = 0; page < m_options.pages; ++page)
            if (m_frame_of[page] != none) evict(page);
        auto books = components::mem::Pager<components::policy::FifoRule>::try_create(m_options.pages, m_options.frames, {});
        if (!books.ok()) die("mem: no memory for the fallback policy's books");
        m_local = std::make_unique<Fallback>(std::move(books).value());
        m_local_is_fallback = true;
        const std::lock_guard lock(m_stats_mutex);
        m_stats.policy_called_directly = true;
        m_stats.fallback = reason;
        m_stats.fallback_error = error;
    }

    // A failure of the mechanism itself (not of the policy): its threads
    // would wait forever, so it stops the process with the reason.
    [[noreturn]] static void die(const char* what) {
        const int saved = errno;
        static_cast<void>(std::fprintf(stderr, "%s failed: %s\n", what, std::strerror(saved)));
        std::abort();
    }

    std::byte* m_base;
    std::size_t m_page;
    PoolOptions m_options;
    FileDescriptor m_uffd;
    // The handler's doorbell (an eventfd): release() and stop() ring it.
    FileDescriptor m_control;
    std::mutex m_requests_mutex;
    std::condition_variable m_released_cv;
    std::vector<Release> m_releases;
    std::uint32_t m_reclaims = 0;  // frames reclaim() asked for, not yet served
    std::uint64_t m_requested = 0;
    std::uint64_t m_completed = 0;
    bool m_stopping = false;
    // The backing store: a saved copy of each page that was evicted.
    BackingStore m_store;
    std::vector<std::uint8_t> m_saved;
    std::vector<std::uint32_t> m_frame_of;  // page -> frame, or none
    std::vector<std::uint32_t> m_page_on;   // frame -> page, or none
    std::uint32_t m_resident = 0;
    // Accessed-bit sampling (RegionOptions::sample_every): pages protected
    // by the last sample and not written since, and pages written since.
    std::vector<std::uint8_t> m_sampled;
    std::vector<std::uint8_t> m_accessed;
    std::vector<std::uint32_t> m_accessed_since;  // the pages set in m_accessed since the last batch
    std::uint32_t m_since_sample = 0;
    // A sample was taken since the last batch: the next reports a round.
    bool m_round_pending = false;
    // Pages a sample dropped while they keep their frames
    // (Sample::ReadsAndWrites); their saved copies are current.
    std::vector<std::uint8_t> m_soft;
    // Pages whose waiting fault was a write (reported as such), until mapped.
    std::vector<std::uint8_t> m_write_fault;
    // Regions (ManagedRegion::try_attach): each page's, the next free page,
    // how many, and each region's pages with a frame (read by stats() on
    // the regions' threads).
    std::vector<std::uint8_t> m_region_of;
    std::vector<Attach> m_attaches;
    std::uint32_t m_next_page = 0;
    std::uint32_t m_regions = 0;
    std::array<std::atomic<std::uint32_t>, max_regions> m_region_resident{};
    std::vector<std::uint32_t> m_waiting;   // pages whose threads wait for a frame
    bool m_wake_needed = false;
    std::optional<MemClient> m_remote;
    // On the heap: made only when the policy fails.
    // The policy the handler calls itself: an inproc-placed component's
    // books (use_directly), or the FIFO it fell back to; null while a
    // remote policy serves.
    std::unique_ptr<milk::host::DirectMemPolicy> m_local;
    bool m_local_is_fallback = false;
    std::vector<milk::host::DirectMemDecision> m_local_decisions;
    std::thread m_thread;
    mutable std::mutex m_stats_mutex;
    RegionStats m_stats;
};

namespace {

// A region's own pool: the region's options.
PoolOptions pool_options(const RegionOptions& options) {
    return PoolOptions{.pages = options.pages,
                       .frames = options.frames,
                       .policy_deadline = options.policy_deadline,
                       .sample_every = options.sample_every,
                       .sample = options.sample,
                       .backing_directory = options.backing_directory};
}

// The pool's memory, registration, store and handler, before any policy.
Result<std::unique_ptr<ManagedPool::Handler>> make_handler(const PoolOptions& options) {
    if (options.pages == 0 || options.frames == 0 || options.frames > options.pages)
        return Error{ErrorCode::InvalidArgument, "mem: a region needs 1 <= frames <= pages", options.frames};
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    auto uffd = MILK_TRY(open_userfaultfd());
    const int stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0) return system_error("mem: eventfd");
    FileDescriptor stop(stop_fd);
    const std::size_t bytes = std::size_t{options.pages} * page;
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return system_error("mem: mmap of the region");
    // Not huge pages: the policy places base pages.
    static_cast<void>(::madvise(base, bytes, MADV_NOHUGEPAGE));
    uffdio_register registration{};
    registration.range = {reinterpret_cast<std::uintptr_t>(base), bytes};
    registration.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
    if (::ioctl(uffd.get(), UFFDIO_REGISTER, &registration) != 0) {
        const Error error = system_error("mem: UFFDIO_REGISTER (missing and write-protect)");
        ::munmap(base, bytes);
        return error;
    }
    auto store = BackingStore::try_create(options.backing_directory, options.pages, page);
    if (!store.ok()) {
        ::munmap(base, bytes);
        return store.error();
    }
    return std::make_unique<ManagedPool::Handler>(static_cast<std::byte*>(base), page, options, std::move(uffd),
                                                  std::move(stop), std::move(store).value());
}

}  // namespace

Result<std::shared_ptr<ManagedPool>> ManagedPool::try_create(MemEndpoint&& endpoint, const PoolOptions& options) {
    auto handler = MILK_TRY(make_handler(options));
    MILK_TRY(handler->connect(std::move(endpoint)));
    handler->start();
    return std::shared_ptr<ManagedPool>(new ManagedPool(std::move(handler)));
}

Result<std::shared_ptr<ManagedPool>> ManagedPool::try_create(host::Host& host, std::string_view instance,
                                                             const PoolOptions& options) {
    const host::InstanceConfig* config = host.instance_config(instance);
    const host::ComponentType* type = host.component_type(instance);
    if (config == nullptr || type == nullptr)
        return Error{ErrorCode::InvalidArgument, "mem: the host has no such instance", 0};
    // In this process, a memory manager is called by the handler itself:
    // the same component, without the hop to its serving thread.
    if (config->placement == Placement::Inproc && type->direct_mem != nullptr) {
        auto handler = MILK_TRY(make_handler(options));
        handler->use_directly(MILK_TRY(type->direct_mem(config->settings, options.pages, options.frames)));
        handler->start();
        return std::shared_ptr<ManagedPool>(new ManagedPool(std::move(handler)));
    }
    return try_create(MILK_TRY(host.connect<Mem::Contract>(instance)), options);
}

ManagedPool::ManagedPool(std::unique_ptr<Handler> handler) : m_handler(std::move(handler)) {}
ManagedPool::~ManagedPool() = default;
RegionStats ManagedPool::stats() const { return m_handler->stats(); }

Result<std::unique_ptr<ManagedRegion>> ManagedRegion::try_create(MemEndpoint&& endpoint, const RegionOptions& options) {
    auto pool = MILK_TRY(ManagedPool::try_create(std::move(endpoint), pool_options(options)));
    // The pool's one region, not declared as a tenant: its policy sees
    // Hello and batches as it did before pools.
    const auto attached = MILK_TRY(pool->m_handler->attach(options.pages, 1, false));
    return std::unique_ptr<ManagedRegion>(new ManagedRegion(std::move(pool), attached.first, options.pages, attached.region, false));
}

Result<std::unique_ptr<ManagedRegion>> ManagedRegion::try_create(host::Host& host, std::string_view instance,
                                                                 const RegionOptions& options) {
    auto pool = MILK_TRY(ManagedPool::try_create(host, instance, pool_options(options)));
    const auto attached = MILK_TRY(pool->m_handler->attach(options.pages, 1, false));
    return std::unique_ptr<ManagedRegion>(new ManagedRegion(std::move(pool), attached.first, options.pages, attached.region, false));
}

Result<std::unique_ptr<ManagedRegion>> ManagedRegion::try_attach(std::shared_ptr<ManagedPool> pool,
                                                                 const TenantOptions& options) {
    if (!pool) return Error{ErrorCode::InvalidArgument, "mem: no pool to attach to", 0};
    const auto attached = MILK_TRY(pool->m_handler->attach(options.pages, options.weight, true));
    return std::unique_ptr<ManagedRegion>(new ManagedRegion(std::move(pool), attached.first, options.pages, attached.region, true));
}

ManagedRegion::ManagedRegion(std::shared_ptr<ManagedPool> pool, std::uint32_t first, std::uint32_t pages,
                             std::uint32_t tenant, bool shared)
    : m_pool(std::move(pool)), m_first(first), m_pages(pages), m_tenant(tenant), m_shared(shared) {}

ManagedRegion::~ManagedRegion() {
    // Its frames go back to the pool's other tenants; the pool itself goes
    // with its last region.
    if (m_shared) static_cast<void>(release(0, m_pages));
}

std::byte* ManagedRegion::data() const { return m_pool->m_handler->data() + std::size_t{m_first} * page_size(); }
std::size_t ManagedRegion::size() const { return std::size_t{m_pages} * page_size(); }
std::size_t ManagedRegion::page_size() const { return m_pool->m_handler->page_size(); }
RegionStats ManagedRegion::stats() const {
    RegionStats stats = m_pool->m_handler->stats();
    stats.resident = m_pool->m_handler->resident_of(m_tenant);
    return stats;
}
Result<void> ManagedPool::reclaim(std::uint32_t frames) { return m_handler->reclaim(frames); }

Result<void> ManagedRegion::reclaim(std::uint32_t frames) { return m_pool->m_handler->reclaim(frames); }

Result<void> ManagedRegion::release(std::uint32_t first, std::uint32_t count) {
    if (count == 0 || std::uint64_t{first} + count > m_pages)
        return Error{ErrorCode::InvalidArgument, "mem: a released range outside the region", first};
    return m_pool->m_handler->release(m_first + first, count);
}

}  // namespace milk::mem
