// The memory manager's kernel mechanism (MILK_IOC_MEM_*, KernelRegion): a
// region mapped from /dev/milk whose faults milk.ko's own fault handler
// serves, with the policy in the module (called directly) and outside it
// (the agent in this process, its policy over a channel). Checks what a user
// would: every word written is read back after evictions, from several
// threads and through a second mapping; the policy's death, its stall and
// its broken decisions all end in the module's FIFO with nothing lost; the
// ABI refuses what it must. Then it measures a fault against a kernel minor
// fault in the same boot ("bench:" lines).
#include "vm_check.hpp"

#include <milk/inproc.hpp>
#include <milk/kernel.hpp>
#include <milk/mem/kernel_region.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace {

namespace Mem = milk::mem::Mem;
using milk::mem::KernelFallback;
using milk::mem::KernelRegion;
using milk::mem::KernelRegionOptions;

constexpr std::size_t page_bytes = 4096;
constexpr std::size_t words_per_page = page_bytes / sizeof(std::uint64_t);

template <typename T>
T take(milk::Result<T>&& result, const char* what) {
    if (!result.ok()) {
        std::fprintf(stderr, "%s: %s (%s, %lld)\n", what, milk::describe(result.error().code), result.error().what,
                     static_cast<long long>(result.error().detail));
        std::exit(1);
    }
    return std::move(result).value();
}

// `threads` threads, thread t owning the pages p with p % threads == t, each
// writing and reading back random words of its pages, `stay` in 1,000 of
// them on the page of the access before (0: every access on a random page);
// then every word of every page is checked. Returns the words that read
// wrong.
std::uint64_t run_workload(std::byte* memory, std::uint32_t pages, std::uint32_t threads, std::uint32_t accesses,
                           std::uint32_t stay = 0) {
    auto* words = reinterpret_cast<volatile std::uint64_t*>(memory);
    std::vector<std::uint64_t> wrong(threads, 0);
    std::vector<std::thread> workers;
    for (std::uint32_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            std::vector<std::uint64_t> shadow(std::size_t{pages} * words_per_page, 0);
            std::minstd_rand random(t + 7);
            const std::uint32_t mine = pages / threads;
            std::uint32_t page = t;
            for (std::uint32_t i = 0; i < accesses; ++i) {
                if (random() % 1000 >= stay) page = t + threads * static_cast<std::uint32_t>(random() % mine);
                const std::size_t word = page * words_per_page + random() % words_per_page;
                if (words[word] != shadow[word]) ++wrong[t];
                shadow[word] = (std::uint64_t{t} << 56) | (i + 1);
                words[word] = shadow[word];
            }
            for (std::uint32_t checked = t; checked < mine * threads; checked += threads)
                for (std::size_t w = 0; w < words_per_page; ++w)
                    if (words[checked * words_per_page + w] != shadow[checked * words_per_page + w]) ++wrong[t];
        });
    }
    for (std::thread& worker : workers) worker.join();
    std::uint64_t total = 0;
    for (const std::uint64_t count : wrong) total += count;
    return total;
}

void print(const char* what, const KernelRegion& region, std::uint64_t wrong) {
    const auto stats = region.stats();
    std::printf("%s: %llu faults, %llu evictions, %llu maps, %u resident, %llu batches, %llu words wrong, fallback %d\n",
                what, static_cast<unsigned long long>(stats.faults), static_cast<unsigned long long>(stats.evictions),
                static_cast<unsigned long long>(stats.maps), stats.resident, static_cast<unsigned long long>(stats.batches),
                static_cast<unsigned long long>(wrong), static_cast<int>(stats.fallback));
}

// The policy in milk.ko, called by the fault handler; a second mapping of
// the region sees every page the first one wrote, across evictions (an
// eviction unmaps the page from both).
void policy_in_kernel(const char* component) {
    auto region = take(KernelRegion::try_create_in_kernel(component, {}, {.pages = 256, .frames = 32}), component);
    MILK_VM_CHECK(region->policy_in_kernel());
    const std::uint64_t wrong = run_workload(region->data(), 256, 4, 4'000);
    print(component, *region, wrong);
    const auto stats = region->stats();
    MILK_VM_CHECK(wrong == 0);
    MILK_VM_CHECK(stats.fallback == KernelFallback::None);
    MILK_VM_CHECK(stats.evictions > 0 && stats.maps > stats.evictions && stats.resident <= 32);

    void* second = ::mmap(nullptr, region->size(), PROT_READ | PROT_WRITE, MAP_SHARED, region->fd(), 0);
    MILK_VM_CHECK(second != MAP_FAILED);
    auto* one = reinterpret_cast<volatile std::uint64_t*>(region->data());
    auto* two = static_cast<volatile std::uint64_t*>(second);
    for (std::uint32_t page = 0; page < 256; ++page) one[page * words_per_page + 3] = 0xabc000 + page;
    for (std::uint32_t page = 0; page < 256; ++page) MILK_VM_CHECK(two[page * words_per_page + 3] == 0xabc000 + page);
    for (std::uint32_t page = 0; page < 256; ++page) two[page * words_per_page + 5] = 0xdef000 + page;
    for (std::uint32_t page = 0; page < 256; ++page) MILK_VM_CHECK(one[page * words_per_page + 5] == 0xdef000 + page);
    MILK_VM_CHECK(::munmap(second, region->size()) == 0);
}

// A million accesses, mostly near the one before (a program's locality),
// through a pool an eighth of the region: every word still reads back.
void million_accesses() {
    auto region = take(KernelRegion::try_create_in_kernel("mem_clock", {}, {.pages = 256, .frames = 32}), "million");
    const std::uint64_t wrong = run_workload(region->data(), 256, 2, 500'000, 995);
    print("a million accesses (mem_clock)", *region, wrong);
    const auto stats = region->stats();
    MILK_VM_CHECK(wrong == 0);
    MILK_VM_CHECK(stats.fallback == KernelFallback::None && stats.evictions > 1000);
}

// Readahead in the module: a sequential read of half the region faults on
// every fourth page, the three after each prefetched onto free frames.
void readahead_in_kernel() {
    milk::Settings settings;
    MILK_VM_CHECK(settings.set("readahead", 3).ok());
    auto region = take(KernelRegion::try_create_in_kernel("mem_fifo", settings, {.pages = 64, .frames = 32}), "readahead");
    auto* memory = reinterpret_cast<volatile const std::uint64_t*>(region->data());
    std::uint64_t sum = 0;
    for (std::uint32_t page = 0; page < 32; ++page) sum += memory[page * words_per_page];
    const auto stats = region->stats();
    std::printf("readahead 3: %llu faults, %llu prefetches, sum %llu\n", static_cast<unsigned long long>(stats.faults),
                static_cast<unsigned long long>(stats.prefetches), static_cast<unsigned long long>(sum));
    MILK_VM_CHECK(sum == 0 && stats.faults == 8 && stats.prefetches == 24 && stats.fallback == KernelFallback::None);
}

// The policy outside the module: the agent in this process brings the
// module's faults to it over a channel (here to the same component served
// by milk.ko in a kernel thread of the channel).
void policy_through_agent(const char* component) {
    milk::kernel::Options options;
    auto end = take(milk::kernel::open_channel<Mem::Contract>(component, options), component);
    auto region = take(KernelRegion::try_create(Mem::Contract::client(std::move(end)),
                                                {.pages = 128, .frames = 16, .policy_deadline = std::chrono::milliseconds(5000),
                                                 .deadline = std::chrono::milliseconds(10000)}),
                       component);
    MILK_VM_CHECK(!region->policy_in_kernel());
    const std::uint64_t wrong = run_workload(region->data(), 128, 2, 3'000);
    print(component, *region, wrong);
    const auto stats = region->stats();
    MILK_VM_CHECK(wrong == 0);
    MILK_VM_CHECK(stats.fallback == KernelFallback::None);
    MILK_VM_CHECK(stats.batches > 0 && stats.evictions > 0 && stats.resident <= 16);
}

// A policy that takes the region and dies at its first batch: the agent
// sees the channel end and hands the region to the module's FIFO; the
// faults that waited are served, nothing is lost.
void policy_dies() {
    auto pair = take(milk::inproc::open_channel(), "open_channel");
    std::thread dying([server = Mem::Contract::server(std::move(pair.second))]() mutable {
        auto greeted = std::move(server).receive([](Mem::Hello&&, Mem::Server<Mem::state::Greeting>&& next) {
            return std::move(next);
        });
        if (!greeted.ok()) return;
        auto idle = std::move(greeted).value().send(Mem::Welcome{});
        if (!idle.ok()) return;
        // The first Events comes: the policy's end goes with this thread.
        static_cast<void>(std::move(idle).value().receive(
            [](Mem::Events&&, Mem::Server<Mem::state::Batching>&&) {}, [](Mem::Bye&&) {}));
    });
    {
        auto region = take(KernelRegion::try_create(Mem::Contract::client(std::move(pair.first)), {.pages = 128, .frames = 16}),
                           "dying policy");
        const std::uint64_t wrong = run_workload(region->data(), 128, 2, 3'000);
        print("a policy that dies", *region, wrong);
        const auto stats = region->stats();
        MILK_VM_CHECK(wrong == 0);
        MILK_VM_CHECK(stats.fallback == KernelFallback::Asked);
        MILK_VM_CHECK(stats.agent_reason == milk::mem::FallbackReason::PolicyGone);
        MILK_VM_CHECK(stats.resident <= 16);
    }
    dying.join();
}

int create_raw(std::uint32_t pages, std::uint32_t frames, std::uint32_t deadline_ms, const char* policy) {
    const int fd = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    milk_mem_create create{};
    create.pages = pages;
    create.frames = frames;
    create.deadline_ms = deadline_ms;
    std::snprintf(create.policy, sizeof create.policy, "%s", policy);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_MEM_CREATE, &create) == 0);
    MILK_VM_CHECK(create.region_bytes == std::uint64_t{pages} * page_bytes);
    return fd;
}

milk_mem_stats stats_of(int fd) {
    milk_mem_stats stats{};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_MEM_STATS, &stats) == 0);
    return stats;
}

// An agent that never answers: the first fault waits out the deadline, the
// module falls back on its own, and every fault after it is served.
void agent_stalls() {
    const int fd = create_raw(64, 8, 100, "");
    auto* memory = static_cast<volatile std::uint64_t*>(
        ::mmap(nullptr, 64 * page_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    MILK_VM_CHECK(memory != MAP_FAILED);
    for (std::uint32_t round = 0; round < 3; ++round)
        for (std::uint32_t page = 0; page < 64; ++page) memory[page * words_per_page + round] = page * 10 + round;
    for (std::uint32_t round = 0; round < 3; ++round)
        for (std::uint32_t page = 0; page < 64; ++page) MILK_VM_CHECK(memory[page * words_per_page + round] == page * 10 + round);
    const milk_mem_stats stats = stats_of(fd);
    std::printf("a stalled agent: fallback %u, %llu evictions, %u resident\n", stats.fallback,
                static_cast<unsigned long long>(stats.evictions), stats.resident);
    MILK_VM_CHECK(stats.fallback == MILK_MEM_FALLBACK_DEADLINE);
    MILK_VM_CHECK(stats.resident <= 8 && stats.evictions > 0);
    // The agent learns it is too late.
    milk_mem_event events[4];
    milk_mem_wait wait{reinterpret_cast<std::uintptr_t>(events), 4, 0, 0};
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_WAIT, &wait), EPIPE);
    MILK_VM_CHECK(::munmap(const_cast<std::uint64_t*>(memory), 64 * page_bytes) == 0);
    ::close(fd);
}

// An agent that hands the module decisions against its books: each is
// refused, the region falls back, the faulting thread is served.
void hostile_agent() {
    const int fd = create_raw(16, 4, 5000, "");
    auto* memory = static_cast<volatile std::uint64_t*>(
        ::mmap(nullptr, 16 * page_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    MILK_VM_CHECK(memory != MAP_FAILED);
    std::thread toucher([memory] {
        memory[0] = 41;
        memory[words_per_page] = 42;
    });
    milk_mem_event events[4];
    milk_mem_wait wait{reinterpret_cast<std::uintptr_t>(events), 4, 0, -1};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_MEM_WAIT, &wait) == 0);
    MILK_VM_CHECK(wait.count == 1 && events[0].kind == MILK_MEM_EVENT_FAULT && events[0].page == 0);
    MILK_VM_CHECK(events[0].write == 1);  // the toucher's first access is a write
    // A bad address, a kind of no meaning, a frame out of the pool: EFAULT
    // or refused before anything changes.
    milk_mem_apply apply{0x10, 1, 0, 0, 0};
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_APPLY, &apply), EFAULT);
    milk_mem_decision decisions[3] = {{MILK_MEM_DECIDE_MAP, 0, 0, 0}, {MILK_MEM_DECIDE_MAP, 1, 0, 0}, {9, 1, 1, 0}};
    apply = {reinterpret_cast<std::uintptr_t>(decisions), 3, 0, 0, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_MEM_APPLY, &apply) == 0);
    // The first is right (page 0 onto frame 0), the second maps onto the
    // frame page 0 holds now: refused, and so is all that follows.
    MILK_VM_CHECK(apply.applied == 1 && apply.refused == 2);
    MILK_VM_CHECK(decisions[0].result == MILK_MEM_APPLIED && decisions[1].result == MILK_MEM_REFUSED &&
                  decisions[2].result == MILK_MEM_REFUSED);
    toucher.join();
    MILK_VM_CHECK(memory[0] == 41 && memory[words_per_page] == 42);
    MILK_VM_CHECK(stats_of(fd).fallback == MILK_MEM_FALLBACK_POLICY);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_APPLY, &apply), EPIPE);
    MILK_VM_CHECK(::munmap(const_cast<std::uint64_t*>(memory), 16 * page_bytes) == 0);
    ::close(fd);
}

// What the ABI refuses.
void refusals() {
    const int fd = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    milk_mem_create create{};
    create.pages = 16;
    create.frames = 16;  // not fewer than the pages
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_CREATE, &create), EINVAL);
    create.frames = 4;
    create.reserved = 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_CREATE, &create), EINVAL);
    create.reserved = 0;
    std::snprintf(create.policy, sizeof create.policy, "mem_nothing");
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_CREATE, &create), ENOENT);
    std::snprintf(create.policy, sizeof create.policy, "echo");
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_CREATE, &create), EPROTONOSUPPORT);
    std::memset(create.policy, 'x', sizeof create.policy);  // unterminated
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_CREATE, &create), EINVAL);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_MEM_STATS, &create), ENODEV);
    ::close(fd);

    const int region = create_raw(16, 4, 0, "mem_fifo");
    // One region a file, and no channel beside it; the agent's calls are
    // not a module policy's region's.
    MILK_VM_CHECK_ERRNO(::ioctl(region, MILK_IOC_MEM_CREATE, &create), EBUSY);
    milk_mem_event events[1];
    milk_mem_wait wait{reinterpret_cast<std::uintptr_t>(events), 1, 0, 0};
    MILK_VM_CHECK_ERRNO(::ioctl(region, MILK_IOC_MEM_WAIT, &wait), ENODEV);
    // Mapped whole, shared, from offset 0 only.
    MILK_VM_CHECK(::mmap(nullptr, 16 * page_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, region, 0) == MAP_FAILED);
    MILK_VM_CHECK(errno == EINVAL);
    MILK_VM_CHECK(::mmap(nullptr, 8 * page_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, region, 0) == MAP_FAILED);
    MILK_VM_CHECK(errno == EINVAL);
    MILK_VM_CHECK(::mmap(nullptr, 8 * page_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, region, 8 * page_bytes) == MAP_FAILED);
    ::close(region);
    std::printf("refusals: as documented\n");
}

std::uint64_t ns_since(std::chrono::steady_clock::time_point start) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
}

// Nanoseconds per first touch of a page: `pages` reads, one a page.
std::uint64_t touch_each(volatile const std::byte* memory, std::uint32_t pages) {
    const auto start = std::chrono::steady_clock::now();
    for (std::uint32_t page = 0; page < pages; ++page) static_cast<void>(memory[page * page_bytes]);
    return ns_since(start) / pages;
}

// A fault served by milk.ko's handler (the policy in the module, a frame
// free or one to evict) against a kernel minor fault on anonymous memory,
// alternated in one boot: the medians of 3 rounds.
void bench() {
    constexpr std::uint32_t pages = 1024;
    std::vector<std::uint64_t> minor, free_frame, evicting;
    for (int round = 0; round < 3; ++round) {
        void* anonymous = ::mmap(nullptr, pages * page_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        MILK_VM_CHECK(anonymous != MAP_FAILED);
        // A write: a read of anonymous memory maps the shared zero page.
        const auto start = std::chrono::steady_clock::now();
        for (std::uint32_t page = 0; page < pages; ++page) static_cast<volatile std::byte*>(anonymous)[page * page_bytes] = std::byte{1};
        minor.push_back(ns_since(start) / pages);
        MILK_VM_CHECK(::munmap(anonymous, pages * page_bytes) == 0);

        auto roomy = take(KernelRegion::try_create_in_kernel("mem_fifo", {}, {.pages = pages + 1, .frames = pages}), "bench");
        free_frame.push_back(touch_each(roomy->data(), pages));
        auto tight = take(KernelRegion::try_create_in_kernel("mem_fifo", {}, {.pages = pages, .frames = 256}), "bench");
        touch_each(tight->data(), 256);  // the pool full: every later fault evicts
        evicting.push_back(touch_each(tight->data() + 256 * page_bytes, pages - 256));
    }
    auto median = [](std::vector<std::uint64_t> values) {
        std::sort(values.begin(), values.end());
        return values[values.size() / 2];
    };
    const double base = static_cast<double>(median(minor));
    std::printf("bench: kernel minor fault (anonymous, write) %llu ns\n", static_cast<unsigned long long>(median(minor)));
    std::printf("bench: milk.ko fault handler, mem_fifo in the module, free frame %llu ns = %.2f x minor fault\n",
                static_cast<unsigned long long>(median(free_frame)), static_cast<double>(median(free_frame)) / base);
    std::printf("bench: milk.ko fault handler, mem_fifo in the module, evicting %llu ns = %.2f x minor fault\n",
                static_cast<unsigned long long>(median(evicting)), static_cast<double>(median(evicting)) / base);
}

// Runs one part and says how long it took (the VM's time budget is shared).
template <typename Part>
void timed(const char* name, Part&& part) {
    const auto start = std::chrono::steady_clock::now();
    part();
    std::printf("(%s: %.1f s)\n", name, static_cast<double>(ns_since(start)) / 1e9);
}

}  // namespace

int main() {
    timed("mem_clock in the module", [] { policy_in_kernel("mem_clock"); });
    timed("mem_fifo in the module", [] { policy_in_kernel("mem_fifo"); });
    timed("a million accesses", million_accesses);
    timed("readahead", readahead_in_kernel);
    timed("through the agent", [] { policy_through_agent("mem_clock"); });
    timed("a policy that dies", policy_dies);
    timed("a stalled agent", agent_stalls);
    timed("a hostile agent", hostile_agent);
    timed("refusals", refusals);
    timed("bench", bench);
    return 0;
}
