// The user-space memory manager mechanism (userland/mem) with real faults:
// a region larger than its pool, served by userfaultfd, touched by several
// threads at once, its pages placed by a memory manager component wherever
// the host put it. What a user checks: every byte written is read back,
// after any number of evictions, and a policy that dies or misbehaves loses
// nothing and leaves no thread stopped.
#include "../host/one_instance_host.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>
#include <milk/mem/managed_region.hpp>

#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace {

using milk::Placement;
using milk::mem::FallbackReason;
using milk::mem::ManagedPool;
using milk::mem::ManagedRegion;
using milk::mem::RegionStats;
using milk::mem::Sample;
namespace Mem = milk::mem::Mem;

template <typename T>
T take(milk::Result<T>&& result) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what));
    return std::move(result).value();
}

milk::host::Host make_host(const char* component, Placement placement, const milk::Settings& settings = {},
                           std::chrono::microseconds spin = std::chrono::microseconds(10)) {
    return milk::test::make_one_instance_host("pager", component, placement, settings, spin);
}

// `threads` workers, each the only writer of the pages p with p % threads
// == its number, touch the region `accesses` times each: mostly within a
// window of pages that moves (locality, so that the pool helps), now and
// then anywhere. Every touch reads a word, checks it against the worker's
// own copy of its pages, and writes a new value. At the end every word of
// every page is checked. `during` runs on the caller's thread meanwhile.
struct Workload {
    std::uint32_t threads = 4;
    std::uint32_t accesses = 20'000;
};

template <typename During>
std::uint64_t run_workload(ManagedRegion& region, Workload workload, During&& during) {
    const std::size_t words_per_page = region.page_size() / sizeof(std::uint64_t);
    const auto pages = static_cast<std::uint32_t>(region.size() / region.page_size());
    auto* words = reinterpret_cast<std::uint64_t*>(region.data());
    std::atomic<std::uint64_t> wrong{0};
    std::atomic<std::uint32_t> finished{0};
    std::vector<std::thread> workers;
    for (std::uint32_t t = 0; t < workload.threads; ++t) {
        workers.emplace_back([&, t] {
            std::vector<std::uint64_t> shadow(std::size_t{pages} * words_per_page, 0);
            std::minstd_rand random(t + 1);
            const std::uint32_t owned = (pages - t + workload.threads - 1) / workload.threads;
            std::uint32_t window = 0;
            for (std::uint32_t i = 0; i < workload.accesses; ++i) {
                if (i % 512 == 0) window = static_cast<std::uint32_t>(random() % owned);
                const std::uint32_t nth = random() % 8 != 0 ? (window + static_cast<std::uint32_t>(random() % 6)) % owned
                                                            : static_cast<std::uint32_t>(random() % owned);
                const std::uint32_t page = t + nth * workload.threads;
                const std::size_t word = std::size_t{page} * words_per_page + random() % words_per_page;
                if (words[word] != shadow[word]) wrong.fetch_add(1, std::memory_order_relaxed);
                shadow[word] = (std::uint64_t{t} << 56) | (std::uint64_t{i} << 8) | (word & 0xff);
                words[word] = shadow[word];
            }
            for (std::uint32_t page = t; page < pages; page += workload.threads)
                for (std::size_t w = 0; w < words_per_page; ++w) {
                    const std::size_t word = std::size_t{page} * words_per_page + w;
                    if (words[word] != shadow[word]) wrong.fetch_add(1, std::memory_order_relaxed);
                }
            finished.fetch_add(1);
        });
    }
    during(finished);
    for (std::thread& worker : workers) worker.join();
    return wrong.load();
}

std::uint64_t run_workload(ManagedRegion& region, Workload workload) {
    return run_workload(region, workload, [](const std::atomic<std::uint32_t>&) {});
}

}  // namespace

TEST_CASE("a region four times its pool keeps every byte, from four threads, the policy in each placement") {
    for (const char* component : {"mem_fifo", "mem_clock"}) {
        for (Placement placement : {Placement::Inproc, Placement::Process}) {
            CAPTURE(component);
            CAPTURE(static_cast<int>(placement));
            // mem_clock's instance spins a millisecond for the next batch
            // (spin_us), mem_fifo's the default 10 us: the runner takes it
            // on its command line.
            const auto spin = std::chrono::microseconds(std::string_view(component) == "mem_clock" ? 1000 : 10);
            auto host = make_host(component, placement, {}, spin);
            auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 128, .frames = 32}));
            CHECK(run_workload(*region, {}) == 0);
            const milk::mem::RegionStats stats = region->stats();
            CHECK(stats.fallback == FallbackReason::None);
            CHECK(stats.zero_fills == 128);  // every page's first touch, and only that
            CHECK(stats.evictions > 0);
            CHECK(stats.copies_in > 0);      // evicted pages came back with their bytes
            CHECK(stats.resident <= 32);
            CHECK(stats.batches > 0);
            CHECK(stats.batches <= stats.faults);
        }
    }
}

TEST_CASE("a million accesses from four threads through a pool an eighth of the region") {
    auto host = make_host("mem_clock", Placement::Inproc);
    auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 256, .frames = 32}));
    CHECK(run_workload(*region, {.threads = 4, .accesses = 250'000}) == 0);
    const milk::mem::RegionStats stats = region->stats();
    MESSAGE("faults ", stats.faults, ", batches ", stats.batches, ", evictions ", stats.evictions, ", copies in ",
            stats.copies_in, ", zero fills ", stats.zero_fills);
    CHECK(stats.fallback == FallbackReason::None);
    CHECK(stats.evictions > 1000);
    CHECK(stats.resident <= 32);
}

TEST_CASE("the policy's process killed under load: faults go on with the fallback, nothing lost") {
    auto host = make_host("mem_clock", Placement::Process);
    const auto status = host.status();
    REQUIRE(status.size() == 1);
    const pid_t policy = status[0].pid;
    REQUIRE(policy > 0);
    auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 128, .frames = 16}));
    const std::uint64_t wrong = run_workload(*region, {.threads = 4, .accesses = 40'000}, [&](const auto& finished) {
        // Once the policy has answered a few hundred batches, mid-run.
        while (region->stats().batches < 300 && finished.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        REQUIRE(::kill(policy, SIGKILL) == 0);
    });
    CHECK(wrong == 0);
    const milk::mem::RegionStats stats = region->stats();
    CHECK(stats.fallback == FallbackReason::PolicyGone);
    CHECK(stats.resident <= 16);
}

TEST_CASE("a policy that maps onto a taken frame breaks the contract: the fallback serves, nothing lost") {
    // A rogue policy: every fault goes onto frame 0, whatever is there.
    auto pair = take(milk::inproc::open_channel());
    std::thread rogue([server = Mem::Contract::server(std::move(pair.second))]() mutable {
        auto greeted = std::move(server).receive([](Mem::Hello&&, Mem::Server<Mem::state::Greeting>&& next) {
            return std::move(next);
        });
        if (!greeted.ok()) return;
        auto idle = std::move(greeted).value().send(Mem::Welcome{});
        std::optional<Mem::Server<Mem::state::Idle>> at{std::move(idle).value()};
        for (;;) {
            std::vector<std::uint32_t> faults;
            std::uint64_t seq = 0;
            auto batching = std::move(*at).receive(
                [&](Mem::Events&& events, Mem::Server<Mem::state::Batching>&& next) {
                    seq = events.seq;
                    for (const auto& event : events.events)
                        if (event.kind == milk::mem::EventKind::fault) faults.push_back(event.page);
                    return std::optional<Mem::Server<Mem::state::Batching>>{std::move(next)};
                },
                [](Mem::Bye&&) { return std::optional<Mem::Server<Mem::state::Batching>>{}; });
            at.reset();
            if (!batching.ok() || !batching.value()) return;
            auto deciding = std::move(*batching.value()).receive(
                [](Mem::Commit&&, Mem::Server<Mem::state::Deciding>&& next) { return std::move(next); },
                [](Mem::Events&&, Mem::Server<Mem::state::Batching>&&) -> Mem::Server<Mem::state::Deciding> {
                    std::abort();  // one Events message a batch here
                });
            if (!deciding.ok()) return;
            Mem::Decisions decisions{seq, {}};
            for (std::size_t i = 0; i < faults.size() && i < decisions.decisions.size(); ++i)
                decisions.decisions[i] = {milk::mem::DecisionKind::map, faults[i], 0};
            auto more = std::move(deciding).value().send(decisions);
            if (!more.ok()) return;
            auto decided = std::move(more).value().send(Mem::Decided{seq});
            if (!decided.ok()) return;
            at.emplace(std::move(decided).value());
        }
    });
    {
        auto region = take(ManagedRegion::try_create(Mem::Contract::client(std::move(pair.first)), {.pages = 64, .frames = 8}));
        CHECK(run_workload(*region, {.threads = 2, .accesses = 10'000}) == 0);
        const milk::mem::RegionStats stats = region->stats();
        CHECK(stats.fallback == FallbackReason::BrokeContract);
        REQUIRE(stats.fallback_error.has_value());
        CHECK(std::string(stats.fallback_error->what) == "mem: a map onto a frame that holds a page");
        CHECK(stats.resident <= 8);
    }
    rogue.join();
}

TEST_CASE("a policy placed in the process is called by the handler itself, its decisions checked as a channel's") {
    for (const char* component : {"mem_fifo", "mem_clock", "mem_lru"}) {
        CAPTURE(component);
        auto host = make_host(component, Placement::Inproc);
        auto region = take(ManagedRegion::try_create(host, "pager", {.pages = 64, .frames = 8}));
        CHECK(run_workload(*region, {.threads = 4, .accesses = 20'000}) == 0);
        const RegionStats stats = region->stats();
        CHECK(stats.policy_called_directly);
        CHECK(stats.fallback == FallbackReason::None);
        CHECK(stats.evictions > 0);
        CHECK(stats.resident <= 8);
    }
    // Another placement goes over the host's channel.
    auto host = make_host("mem_fifo", Placement::Process);
    auto region = take(ManagedRegion::try_create(host, "pager", {.pages = 64, .frames = 8}));
    CHECK(run_workload(*region, {.threads = 2, .accesses = 5'000}) == 0);
    CHECK_FALSE(region->stats().policy_called_directly);
    // A region beyond the instance's settings is refused, as a Hello would be.
    milk::Settings small;
    REQUIRE(small.set("max_frames", 4).ok());
    auto limited = make_host("mem_fifo", Placement::Inproc, small);
    CHECK_FALSE(ManagedRegion::try_create(limited, "pager", {.pages = 64, .frames = 8}).ok());
    CHECK_FALSE(ManagedRegion::try_create(limited, "nobody", {.pages = 64, .frames = 2}).ok());
}

TEST_CASE("reclaim under memory pressure evicts the policy's victims, their data kept, their frames left free") {
    auto host = make_host("mem_fifo", Placement::Inproc);
    auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 32, .frames = 8}));
    const std::size_t page = region->page_size();
    auto* memory = reinterpret_cast<volatile std::uint32_t*>(region->data());
    const std::size_t words = page / sizeof(std::uint32_t);
    for (std::uint32_t p = 0; p < 8; ++p) memory[p * words + 1] = 1000 + p;
    CHECK(region->stats().resident == 8);
    REQUIRE(region->reclaim(5).ok());
    RegionStats stats = region->stats();
    CHECK(stats.resident == 3);
    CHECK(stats.reclaimed == 5);
    CHECK(stats.evictions == 5);
    // New pages take the freed frames without evicting anything.
    for (std::uint32_t p = 8; p < 13; ++p) memory[p * words + 1] = 1000 + p;
    CHECK(region->stats().evictions == 5);
    // Every page still reads what was written.
    for (std::uint32_t p = 0; p < 13; ++p) CHECK(memory[p * words + 1] == 1000 + p);
    CHECK(region->stats().fallback == FallbackReason::None);
    CHECK(region->reclaim(0).error().code == milk::ErrorCode::InvalidArgument);
    CHECK(region->reclaim(9).error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("readahead: a sequential scan faults on a fraction of its pages, the rest prefetched, every byte kept") {
    milk::Settings settings;
    REQUIRE(settings.set("readahead", 3).ok());
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(static_cast<int>(placement));
        auto host = make_host("mem_fifo", placement, settings);
        auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 64, .frames = 32}));
        const std::size_t page = region->page_size();
        auto* memory = reinterpret_cast<volatile std::uint32_t*>(region->data());
        const std::size_t words = page / sizeof(std::uint32_t);
        // Reads of the first 32 pages in order: a fault every fourth page.
        std::uint32_t sum = 0;
        for (std::uint32_t p = 0; p < 32; ++p) sum += memory[p * words];
        CHECK(sum == 0);
        RegionStats stats = region->stats();
        CHECK(stats.prefetches == 24);
        CHECK(stats.write_faults == 0);
        // Writes through the whole region: twice the pool, so pages go and
        // come back; what was written is read back.
        for (std::uint32_t p = 0; p < 64; ++p) memory[p * words + 2] = 7 * p;
        for (std::uint32_t p = 0; p < 64; ++p) CHECK(memory[p * words + 2] == 7 * p);
        stats = region->stats();
        CHECK(stats.write_faults > 0);
        CHECK(stats.fallback == FallbackReason::None);
    }
}

TEST_CASE("released pages read as zeros and free their frames for the next faults without an eviction") {
    auto host = make_host("mem_fifo", Placement::Inproc);
    auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 16, .frames = 4}));
    const std::size_t page = region->page_size();
    std::byte* memory = region->data();
    for (std::size_t p = 0; p < 4; ++p) memory[p * page + 7] = std::byte{0x5a};
    CHECK(region->stats().resident == 4);
    REQUIRE(region->release(0, 2).ok());
    CHECK(region->stats().resident == 2);
    // Their contents are gone; the others' are not.
    CHECK(memory[0 * page + 7] == std::byte{0});
    CHECK(memory[3 * page + 7] == std::byte{0x5a});
    // Page 0 faulted again just now; page 4 takes the other free frame:
    // the policy heard of the release, so neither needed an eviction.
    memory[4 * page] = std::byte{1};
    CHECK(region->stats().evictions == 0);
    CHECK(region->stats().resident == 4);
    memory[5 * page] = std::byte{1};  // the pool is full now: one goes
    CHECK(region->stats().evictions == 1);
    CHECK(region->release(15, 2).error().code == milk::ErrorCode::InvalidArgument);
    CHECK(region->release(3, 0).error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("with accessed-bit samples, mem_clock keeps a page in use where mem_fifo evicts it") {
    // One thread writes a hot page between touches of twenty cold ones
    // taken in turn, through a pool of eight frames: every cold touch
    // faults under any policy; the hot page faults again only when evicted.
    const auto evictions = [](const char* component, std::uint32_t sample_every) {
        auto host = make_host(component, Placement::Inproc);
        auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")),
                                                     {.pages = 64, .frames = 8, .sample_every = sample_every}));
        const std::size_t page = region->page_size();
        // Volatile: each store is a touch (the compiler would otherwise
        // keep only the hot page's last one).
        volatile std::byte* memory = region->data();
        for (std::uint32_t i = 0; i < 2000; ++i) {
            memory[0] = static_cast<std::byte>(i);
            memory[(1 + i % 20) * page] = static_cast<std::byte>(i);
        }
        CHECK(memory[0] == static_cast<std::byte>(1999 % 256));
        const milk::mem::RegionStats stats = region->stats();
        CHECK(stats.fallback == FallbackReason::None);
        if (sample_every != 0) CHECK(stats.samples > 0);
        return stats.evictions;
    };
    const std::uint64_t fifo = evictions("mem_fifo", 0);
    const std::uint64_t clock = evictions("mem_clock", 1);
    MESSAGE("evictions: mem_fifo ", fifo, ", mem_clock with samples ", clock);
    // 2,000 cold faults either way; FIFO adds the hot page's every eighth
    // or so.
    CHECK(fifo > 2000 + 150);
    CHECK(clock < 2000 + 20);
}

TEST_CASE("with reads in the samples, a page only read stays resident under mem_lru and mem_clock, where FIFO evicts it") {
    // As above, but the hot page is only read: a sample of writes never sees
    // it used, a sample of reads and writes (a soft unmap) does.
    struct Run {
        std::uint64_t evictions;
        milk::mem::RegionStats stats;
    };
    const auto run = [](const char* component, Sample sample) {
        auto host = make_host(component, Placement::Inproc);
        auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")),
                                                     {.pages = 64, .frames = 8, .sample_every = 1, .sample = sample}));
        const std::size_t page = region->page_size();
        volatile std::byte* memory = region->data();
        memory[0] = std::byte{0x5a};  // its one write, before the loop
        std::uint32_t wrong = 0;
        for (std::uint32_t i = 0; i < 2000; ++i) {
            if (memory[0] != std::byte{0x5a}) ++wrong;
            memory[(1 + i % 20) * page] = static_cast<std::byte>(i);
        }
        CHECK(wrong == 0);
        for (std::uint32_t cold = 1; cold <= 20; ++cold)
            CHECK(memory[cold * page] == static_cast<std::byte>((2000 - 20 + (cold - 1)) % 256));
        const milk::mem::RegionStats stats = region->stats();
        CHECK(stats.fallback == FallbackReason::None);
        CHECK(stats.samples > 0);
        return Run{stats.evictions, stats};
    };
    const Run fifo = run("mem_fifo", Sample::ReadsAndWrites);
    const Run clock = run("mem_clock", Sample::ReadsAndWrites);
    const Run lru = run("mem_lru", Sample::ReadsAndWrites);
    const Run clock_writes_only = run("mem_clock", Sample::Writes);
    MESSAGE("evictions with reads sampled: mem_fifo ", fifo.evictions, ", mem_clock ", clock.evictions, ", mem_lru ",
            lru.evictions, "; mem_clock sampling writes only ", clock_writes_only.evictions);
    // 2,000 cold faults under any policy (less the 7 that fill free frames);
    // FIFO adds the hot page's every eighth or so, and so does CLOCK when
    // the reads go unseen.
    CHECK(fifo.evictions > 2000 + 150);
    CHECK(clock.evictions < 2000 + 20);
    CHECK(lru.evictions < 2000 + 20);
    CHECK(clock_writes_only.evictions > 2000 + 150);
    // The reads were seen through soft unmaps and their faults.
    CHECK(clock.stats.soft_unmaps > 0);
    CHECK(clock.stats.sample_faults > 0);
    CHECK(clock_writes_only.stats.soft_unmaps == 0);
}

TEST_CASE("reads and writes sampled every batch, four threads: every byte kept through soft unmaps and evictions") {
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(static_cast<int>(placement));
        auto host = make_host("mem_lru", placement, {}, std::chrono::microseconds(1000));
        auto region = take(ManagedRegion::try_create(
            take(host.connect<Mem::Contract>("pager")),
            {.pages = 128, .frames = 32, .sample_every = 1, .sample = Sample::ReadsAndWrites}));
        CHECK(run_workload(*region, {.threads = 4, .accesses = 20'000}) == 0);
        const milk::mem::RegionStats stats = region->stats();
        CHECK(stats.fallback == FallbackReason::None);
        CHECK(stats.soft_unmaps > 0);
        CHECK(stats.sample_faults > 0);
        CHECK(stats.evictions > 0);
        CHECK(stats.resident <= 32);
    }
}

namespace {

// Two regions of one pool, weights 1 and 3, both faulting through four
// times the pool at once (two threads each): what each holds at the end.
struct Shared {
    std::uint32_t light;
    std::uint32_t heavy;
};

Shared share_a_pool(const char* component) {
    auto host = make_host(component, Placement::Inproc, {}, std::chrono::microseconds(1000));
    auto pool = take(ManagedPool::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 256, .frames = 32}));
    auto light = take(ManagedRegion::try_attach(pool, {.pages = 128, .weight = 1}));
    auto heavy = take(ManagedRegion::try_attach(pool, {.pages = 128, .weight = 3}));
    CHECK(light->data() + light->size() == heavy->data());
    std::uint64_t wrong_heavy = 0;
    std::thread other([&] { wrong_heavy = run_workload(*heavy, {.threads = 2, .accesses = 20'000}); });
    CHECK(run_workload(*light, {.threads = 2, .accesses = 20'000}) == 0);
    other.join();
    CHECK(wrong_heavy == 0);
    const milk::mem::RegionStats pool_stats = pool->stats();
    const Shared shared{light->stats().resident, heavy->stats().resident};
    MESSAGE(std::string(component), ": resident, weight 1 ", shared.light, ", weight 3 ", shared.heavy, " of 32; evictions ",
            pool_stats.evictions);
    CHECK(pool_stats.fallback == FallbackReason::None);
    CHECK(pool_stats.evictions > 1000);
    CHECK(shared.light + shared.heavy <= 32);
    CHECK(pool_stats.resident == shared.light + shared.heavy);
    // A region that goes gives its frames back to the pool.
    light.reset();
    CHECK(pool->stats().resident == heavy->stats().resident);
    return shared;
}

}  // namespace

TEST_CASE("two regions of weights 1 and 3 share a pool under mem_fair: each holds its share, every byte kept") {
    const Shared fair = share_a_pool("mem_fair");
    // Shares of 8 and 24 frames, within 10% of the pool (3 frames).
    CHECK(fair.light >= 8 - 3);
    CHECK(fair.light <= 8 + 3);
    CHECK(fair.heavy >= 24 - 3);
    CHECK(fair.heavy <= 24 + 3);
    // Under FIFO the weights mean nothing: the frames go to whoever
    // faulted last, every byte still kept.
    static_cast<void>(share_a_pool("mem_fifo"));
}

TEST_CASE("a pool refuses a region it has no pages for, a weight of 0 or over 2^20, and a sixteenth region") {
    auto host = make_host("mem_fair", Placement::Inproc);
    auto pool = take(ManagedPool::try_create(take(host.connect<Mem::Contract>("pager")), {.pages = 32, .frames = 4}));
    CHECK(ManagedRegion::try_attach(pool, {.pages = 33, .weight = 1}).error().code == milk::ErrorCode::InvalidArgument);
    CHECK(ManagedRegion::try_attach(pool, {.pages = 1, .weight = 0}).error().code == milk::ErrorCode::InvalidArgument);
    CHECK(ManagedRegion::try_attach(pool, {.pages = 1, .weight = (1u << 20) + 1}).error().code ==
          milk::ErrorCode::InvalidArgument);
    CHECK(ManagedRegion::try_attach(nullptr, {.pages = 1, .weight = 1}).error().code == milk::ErrorCode::InvalidArgument);
    std::vector<std::unique_ptr<ManagedRegion>> regions;
    for (int i = 0; i < 15; ++i) regions.push_back(take(ManagedRegion::try_attach(pool, {.pages = 2, .weight = 1})));
    CHECK(ManagedRegion::try_attach(pool, {.pages = 2, .weight = 1}).error().code == milk::ErrorCode::InvalidArgument);
    // Each region is its own memory: a byte written in one is not in another.
    regions[3]->data()[5] = std::byte{7};
    CHECK(regions[4]->data()[5] == std::byte{0});
    CHECK(regions[3]->data()[5] == std::byte{7});
    CHECK(regions[3]->release(1, 2).error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("evicted pages saved to a file keep every byte, and a directory that cannot hold one is refused") {
    auto host = make_host("mem_fifo", Placement::Inproc);
    const std::string directory = std::filesystem::temp_directory_path().string();
    auto region = take(ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")),
                                                 {.pages = 128, .frames = 16, .backing_directory = directory}));
    CHECK(run_workload(*region, {.threads = 4, .accesses = 10'000}) == 0);
    const milk::mem::RegionStats stats = region->stats();
    CHECK(stats.fallback == FallbackReason::None);
    CHECK(stats.copies_in > 0);

    auto refused = ManagedRegion::try_create(take(host.connect<Mem::Contract>("pager")),
                                             {.pages = 8, .frames = 2, .backing_directory = "/nonexistent/milk"});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::SystemError);
}
