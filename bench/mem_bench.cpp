// milk-mem-bench: the memory manager (docs/mem.md), measured. A program, not
// a test: it prints a table and ratios, and writes a plot.
//
// 1. Fault latency, one page touched at a time by one thread, every touch a
//    fault, in one run and round by round alternated so that every row sees
//    the same machine:
//      kernel minor fault   a read of an untouched page of anonymous memory
//                           (the kernel maps its zero page);
//      raw userfaultfd      the same read of a region registered with
//                           userfaultfd, a handler thread answering each fault
//                           with UFFDIO_ZEROPAGE: the least a user-space
//                           handler can do for it;
//      milk, policy inproc  milk::mem::ManagedRegion with a pool as large as
//      milk, policy process the region (no evictions): each fault is a batch
//                           to the mem_fifo component, in this process or in
//                           milk-runner, then UFFDIO_ZEROPAGE and one wake.
//    Ratios: milk ÷ raw userfaultfd, milk ÷ kernel minor fault.
//
// 2. Hit ratios of each policy over four access patterns (sequential loop,
//    uniform random, Zipf, a working set that shifts), the policy objects
//    called directly (the Pager the components use, no faults), with the
//    offline optimum (Belady: evict the page used furthest in the future) as
//    the ceiling. Written as mem-hit-ratios.{dat,gp,png} in --out. Aging
//    (mem_lru) is told a round every --round-every references (what a
//    mechanism sampling accessed bits at that period would report); exact
//    LRU is its ceiling.
//
// 3. Fair share between two tenants of one pool (mem_fair's rule over the
//    Pager, weights 1 and 3, each referencing its own pages uniformly): the
//    frames each holds over time, the second starting a quarter of the way in.
#include "gnuplot.hpp"

#include "mem/mem_component.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>
#include <milk/mem/managed_region.hpp>

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using milk::Placement;

[[noreturn]] void fail(const char* what, const milk::Error& error) {
    std::fprintf(stderr, "milk-mem-bench: %s: %s (%lld)\n", what, error.what, static_cast<long long>(error.detail));
    std::exit(1);
}
[[noreturn]] void fail_errno(const char* what) {
    std::fprintf(stderr, "milk-mem-bench: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

// ---- 1. fault latency -------------------------------------------------------

// Reads one byte of each page in turn; the time of each read, in ns. With
// `threads` > 1, that many threads read the pages at once (thread t the
// pages i with i % threads == t) and one sample is the wall time per fault
// of the whole region: what a batching handler can gain.
void touch_pages(const std::byte* base, std::uint32_t pages, std::vector<double>& samples, unsigned threads) {
    const std::size_t page = page_size();
    if (threads > 1) {
        const auto start = Clock::now();
        std::vector<std::thread> readers;
        for (unsigned t = 0; t < threads; ++t)
            readers.emplace_back([=] {
                for (std::uint32_t i = t; i < pages; i += threads)
                    static_cast<void>(*static_cast<const volatile std::byte*>(base + std::size_t{i} * page));
            });
        for (std::thread& reader : readers) reader.join();
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() / pages);
        return;
    }
    for (std::uint32_t i = 0; i < pages; ++i) {
        const auto start = Clock::now();
        const auto value = *static_cast<const volatile std::byte*>(base + std::size_t{i} * page);
        const auto end = Clock::now();
        static_cast<void>(value);
        samples.push_back(std::chrono::duration<double, std::nano>(end - start).count());
    }
}

void kernel_minor_faults(std::uint32_t pages, std::vector<double>& samples, unsigned threads) {
    const std::size_t bytes = std::size_t{pages} * page_size();
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) fail_errno("mmap");
    static_cast<void>(::madvise(base, bytes, MADV_NOHUGEPAGE));
    touch_pages(static_cast<const std::byte*>(base), pages, samples, threads);
    ::munmap(base, bytes);
}

// The least a user-space handler does for a fault: read it, map the zero
// page (which wakes the thread).
void raw_userfaultfd_faults(std::uint32_t pages, std::vector<double>& samples, unsigned threads) {
    int uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (uffd < 0 && errno == EPERM) uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
    if (uffd < 0) fail_errno("userfaultfd");
    uffdio_api api{};
    api.api = UFFD_API;
    if (::ioctl(uffd, UFFDIO_API, &api) != 0) fail_errno("UFFDIO_API");
    const std::size_t page = page_size();
    const std::size_t bytes = std::size_t{pages} * page;
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) fail_errno("mmap");
    static_cast<void>(::madvise(base, bytes, MADV_NOHUGEPAGE));
    uffdio_register registration{};
    registration.range = {reinterpret_cast<std::uintptr_t>(base), bytes};
    registration.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (::ioctl(uffd, UFFDIO_REGISTER, &registration) != 0) fail_errno("UFFDIO_REGISTER");
    std::atomic<bool> done{false};
    std::thread handler([&] {
        pollfd entry{uffd, POLLIN, 0};
        uffd_msg message{};
        while (!done.load(std::memory_order_relaxed)) {
            if (::poll(&entry, 1, 10) <= 0) continue;
            if (::read(uffd, &message, sizeof message) != sizeof message) continue;
            if (message.event != UFFD_EVENT_PAGEFAULT) continue;
            uffdio_zeropage zero{};
            zero.range = {message.arg.pagefault.address & ~std::uint64_t{page - 1}, page};
            static_cast<void>(::ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
        }
    });
    touch_pages(static_cast<const std::byte*>(base), pages, samples, threads);
    done = true;
    handler.join();
    ::munmap(base, bytes);
    ::close(uffd);
}

std::string& runner_path() {
    static std::string path;
    return path;
}

milk::host::Host make_host(const char* component, Placement placement, std::chrono::microseconds spin) {
    milk::host::InstanceConfig instance;
    instance.name = "pager";
    instance.component = component;
    instance.placement = placement;
    instance.spin = spin;
    milk::host::Config config;
    config.file = "milk-mem-bench";
    config.instances.push_back(instance);
    milk::host::HostOptions options;
    options.runner_path = runner_path();
    auto host = milk::host::Host::try_create(config, milk::host::compiled_components(), options);
    if (!host.ok()) fail("starting the host", host.error());
    return std::move(host).value();
}

// How the region reaches its policy: over the host's channel, or (an
// inproc instance) by the handler calling the component itself.
enum class Reach : std::uint8_t { Channel, Direct };

void milk_faults(Placement placement, std::chrono::microseconds spin, std::uint32_t pages, std::vector<double>& samples,
                 unsigned threads, Reach reach = Reach::Channel) {
    auto host = make_host("mem_fifo", placement, spin);
    const milk::mem::RegionOptions options{.pages = pages, .frames = pages};
    auto region = [&] {
        if (reach == Reach::Direct) return milk::mem::ManagedRegion::try_create(host, "pager", options);
        auto endpoint = host.connect<milk::mem::Mem::Contract>("pager");
        if (!endpoint.ok()) fail("connecting to the pager", endpoint.error());
        return milk::mem::ManagedRegion::try_create(std::move(endpoint).value(), options);
    }();
    if (!region.ok()) fail("creating the region", region.error());
    touch_pages(region.value()->data(), pages, samples, threads);
    const milk::mem::RegionStats stats = region.value()->stats();
    if (stats.fallback != milk::mem::FallbackReason::None || stats.zero_fills != pages) {
        std::fprintf(stderr, "milk-mem-bench: the region fell back or missed faults (zero fills %llu of %u)\n",
                     static_cast<unsigned long long>(stats.zero_fills), pages);
        std::exit(1);
    }
}

// The same, with the policy's channel polling on both sides (no sleeping
// wake-up between the handler and the policy) and the component served on
// a thread of this process directly: what a polling placement would give.
void milk_polling_faults(std::uint32_t pages, std::vector<double>& samples, unsigned threads) {
    milk::inproc::Options options;
    options.wait_mode = milk::WaitMode::Poll;
    auto pair = milk::inproc::open_channel(options);
    if (!pair.ok()) fail("a polling channel", pair.error());
    auto manager = components::mem::FifoMemoryManager::try_create({});
    if (!manager.ok()) fail("the component", manager.error());
    std::thread policy([&manager, end = std::move(pair.value().second)]() mutable {
        static_cast<void>(milk::serve_channel(manager.value(), milk::mem::Mem::Contract::server(std::move(end))));
    });
    {
        auto region = milk::mem::ManagedRegion::try_create(milk::mem::Mem::Contract::client(std::move(pair.value().first)),
                                                           {.pages = pages, .frames = pages});
        if (!region.ok()) fail("creating the region", region.error());
        touch_pages(region.value()->data(), pages, samples, threads);
    }
    policy.join();
}

double percentile(std::vector<double> samples, double p) {
    if (samples.empty()) return NAN;
    std::sort(samples.begin(), samples.end());
    return samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))];
}

// ---- 2. hit ratios -------------------------------------------------------------

enum class Pattern { Sequential, Uniform, Zipf, Shifting };
const char* pattern_name(Pattern pattern) {
    switch (pattern) {
    case Pattern::Sequential: return "sequential loop";
    case Pattern::Uniform: return "uniform random";
    case Pattern::Zipf: return "zipf 0.99";
    case Pattern::Shifting: return "shifting working set";
    }
    return "?";
}

// A page reference string of `length` over `pages` pages with a pool of
// `frames`: a loop over a little more than the pool (where LRU and FIFO
// fail every time), uniform, Zipf (a few hot pages), and a working set of
// twice the pool that moves to new pages four times.
std::vector<std::uint32_t> make_trace(Pattern pattern, std::uint32_t pages, std::uint32_t frames, std::uint32_t length) {
    std::vector<std::uint32_t> trace;
    trace.reserve(length);
    std::mt19937_64 random(42);
    switch (pattern) {
    case Pattern::Sequential: {
        const std::uint32_t loop = frames + frames / 4;
        for (std::uint32_t i = 0; i < length; ++i) trace.push_back(i % loop);
        break;
    }
    case Pattern::Uniform:
        for (std::uint32_t i = 0; i < length; ++i) trace.push_back(static_cast<std::uint32_t>(random() % pages));
        break;
    case Pattern::Zipf: {
        std::vector<double> weights(pages);
        for (std::uint32_t i = 0; i < pages; ++i) weights[i] = 1.0 / std::pow(i + 1.0, 0.99);
        std::discrete_distribution<std::uint32_t> zipf(weights.begin(), weights.end());
        // Hot pages spread over the region, not all at its start.
        std::vector<std::uint32_t> permutation(pages);
        for (std::uint32_t i = 0; i < pages; ++i) permutation[i] = i;
        std::shuffle(permutation.begin(), permutation.end(), random);
        for (std::uint32_t i = 0; i < length; ++i) trace.push_back(permutation[zipf(random)]);
        break;
    }
    case Pattern::Shifting: {
        const std::uint32_t set = 2 * frames;
        for (std::uint32_t i = 0; i < length; ++i) {
            const std::uint32_t phase = i / (length / 4 + 1);
            // 90% in the current set, 10% anywhere.
            const std::uint32_t page = random() % 10 != 0 ? (phase * set + static_cast<std::uint32_t>(random() % set)) % pages
                                                          : static_cast<std::uint32_t>(random() % pages);
            trace.push_back(page);
        }
        break;
    }
    }
    return trace;
}

// A policy of components/policy behind the Pager the mem components use:
// a hit reports the page accessed (CLOCK's reference bit, as a mechanism
// that samples accessed bits would), a miss is a fault and one batch.
template <typename Rule>
double policy_hit_ratio(const std::vector<std::uint32_t>& trace, std::uint32_t pages, std::uint32_t frames,
                        std::uint32_t round_every = 0) {
    auto pager = components::mem::Pager<Rule>::try_create(pages, frames, Rule{});
    if (!pager.ok()) fail("the pager's books", pager.error());
    std::vector<bool> resident(pages, false);
    std::uint64_t hits = 0;
    std::uint64_t now = 0;
    for (const std::uint32_t page : trace) {
        ++now;
        if (round_every != 0 && now % round_every == 0)
            if (auto r = pager.value().apply({milk::mem::EventKind::round, 0, 0}, now); !r.ok()) fail("round", r.error());
        if (resident[page]) {
            ++hits;
            if (auto r = pager.value().apply({milk::mem::EventKind::accessed, page, 0}, now); !r.ok()) fail("accessed", r.error());
            continue;
        }
        if (auto r = pager.value().apply({milk::mem::EventKind::fault, page, 0}, now); !r.ok()) fail("fault", r.error());
        pager.value().commit([&](const milk::mem::Decision& decision) {
            resident[decision.page] = decision.kind == milk::mem::DecisionKind::map;
        });
    }
    return static_cast<double>(hits) / static_cast<double>(trace.size());
}

// Exact LRU: on a miss with the pool full, evict the page used longest ago
// (what aging approximates with eight bits a page).
double lru_hit_ratio(const std::vector<std::uint32_t>& trace, std::uint32_t pages, std::uint32_t frames) {
    std::vector<std::size_t> last_use(pages, 0);
    std::vector<bool> resident(pages, false);
    std::map<std::size_t, std::uint32_t> by_use;  // last use -> page
    std::uint64_t hits = 0;
    for (std::size_t i = 0; i < trace.size(); ++i) {
        const std::uint32_t page = trace[i];
        if (resident[page]) {
            ++hits;
            by_use.erase(last_use[page]);
        } else if (by_use.size() == frames) {
            resident[by_use.begin()->second] = false;
            by_use.erase(by_use.begin());
        }
        resident[page] = true;
        last_use[page] = i;
        by_use.emplace(i, page);
    }
    return static_cast<double>(hits) / static_cast<double>(trace.size());
}

// Two tenants of one pool under mem_fair's rule: tenant 1 (weight 1) owns
// the first half of the pages, tenant 2 (weight 3) the second; each
// reference is to a uniformly random page of one tenant, in turns, tenant 2
// only from a quarter of the trace on. Prints the frames each holds at
// eight points.
void fair_share_over_time(std::uint32_t pages, std::uint32_t frames, std::uint32_t length) {
    using components::policy::TenantShareRule;
    auto pager = components::mem::Pager<TenantShareRule>::try_create(pages, frames, TenantShareRule{});
    if (!pager.ok()) fail("the pager's books", pager.error());
    const std::uint32_t half = pages / 2;
    for (const milk::mem::Event& tenant : {milk::mem::Event{milk::mem::EventKind::tenant, 0, 1},
                                           milk::mem::Event{milk::mem::EventKind::tenant, half, 3}})
        if (auto r = pager.value().apply(tenant, 0); !r.ok()) fail("tenant", r.error());
    std::vector<bool> resident(pages, false);
    std::array<std::uint32_t, 2> held{};
    std::mt19937_64 random(7);
    std::printf("\nFair share, two tenants of weights 1 and 3 (%u pages each, %u frames; shares %u and %u)\n", half,
                frames, frames / 4, frames - frames / 4);
    std::printf("%-24s %10s %10s\n", "references", "tenant 1", "tenant 2");
    for (std::uint32_t i = 1; i <= length; ++i) {
        const bool second = i > length / 4 && i % 2 == 0;
        const auto page = static_cast<std::uint32_t>((second ? half : 0) + random() % half);
        if (resident[page]) {
            if (auto r = pager.value().apply({milk::mem::EventKind::accessed, page, 0}, i); !r.ok()) fail("accessed", r.error());
        } else {
            if (auto r = pager.value().apply({milk::mem::EventKind::fault, page, 0}, i); !r.ok()) fail("fault", r.error());
            pager.value().commit([&](const milk::mem::Decision& decision) {
                const bool mapped = decision.kind == milk::mem::DecisionKind::map;
                resident[decision.page] = mapped;
                std::uint32_t& count = held[decision.page < half ? 0 : 1];
                count = mapped ? count + 1 : count - 1;
            });
        }
        if (i % (length / 8) == 0) std::printf("%-24u %10u %10u\n", i, held[0], held[1]);
    }
}

// Belady's MIN: on a miss with the pool full, evict the resident page whose
// next use is furthest away (or never).
double belady_hit_ratio(const std::vector<std::uint32_t>& trace, std::uint32_t pages, std::uint32_t frames) {
    const std::size_t never = trace.size();
    std::vector<std::size_t> next_use(trace.size());
    std::vector<std::size_t> seen(pages, never);
    for (std::size_t i = trace.size(); i-- > 0;) {
        next_use[i] = seen[trace[i]];
        seen[trace[i]] = i;
    }
    // The resident pages by their next use: a max-heap would do; a sorted
    // multimap keeps it short.
    std::vector<std::size_t> next_of(pages, never);
    std::vector<bool> resident(pages, false);
    std::multimap<std::size_t, std::uint32_t, std::greater<>> by_next;
    std::uint64_t hits = 0;
    std::uint32_t used = 0;
    for (std::size_t i = 0; i < trace.size(); ++i) {
        const std::uint32_t page = trace[i];
        if (resident[page]) {
            ++hits;
            auto range = by_next.equal_range(next_of[page]);
            for (auto it = range.first; it != range.second; ++it)
                if (it->second == page) {
                    by_next.erase(it);
                    break;
                }
        } else if (used == frames) {
            const auto victim = by_next.begin();
            resident[victim->second] = false;
            by_next.erase(victim);
            resident[page] = true;
        } else {
            resident[page] = true;
            ++used;
        }
        next_of[page] = next_use[i];
        by_next.emplace(next_use[i], page);
    }
    return static_cast<double>(hits) / static_cast<double>(trace.size());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milk-mem-bench: the memory manager's fault latency and its policies' hit ratios"};
    std::uint32_t pages = 2048;
    int rounds = 7;
    std::uint32_t trace_pages = 4096;
    std::uint32_t trace_frames = 512;
    std::uint32_t trace_length = 400'000;
    std::uint32_t round_every = 1024;
    std::string out = "build/bench";
    bool no_plot = false;
    app.add_option("--pages", pages, "pages touched per round in the fault-latency rows");
    app.add_option("--rounds", rounds, "rounds of the fault-latency rows (alternated)");
    app.add_option("--trace-pages", trace_pages, "pages of the hit-ratio traces' region");
    app.add_option("--trace-frames", trace_frames, "frames of the hit-ratio traces' pool");
    app.add_option("--trace-length", trace_length, "references per hit-ratio trace");
    app.add_option("--round-every", round_every, "references per aging round (a sample) in the hit-ratio rows");
    app.add_option("--runner", runner_path(), "milk-runner's path (default: next to this program)");
    app.add_option("--out", out, "where the plot goes");
    app.add_flag("--no-plot", no_plot, "write the plot's data and script but do not run gnuplot");
    CLI11_PARSE(app, argc, argv);

    std::printf("milk-mem-bench: %u pages of %zu bytes, %d rounds, alternated\n\n", pages, page_size(), rounds);
    struct Row {
        const char* label;
        std::function<void(std::vector<double>&)> run;
        std::vector<double> samples;
    };
    // The policy's instance with the default spin (10 us) and with
    // spin_us = 1000 (the config's key: its end spins a millisecond for the
    // next batch before it sleeps), and on a channel that polls both ways.
    const auto default_spin = std::chrono::microseconds(10);
    const auto long_spin = std::chrono::microseconds(1000);
    std::vector<Row> rows;
    for (unsigned threads : {1u, 4u}) {
        rows.push_back({"kernel minor fault (anonymous, read)", [&, threads](auto& s) { kernel_minor_faults(pages, s, threads); }, {}});
        rows.push_back({"raw userfaultfd handler (ZEROPAGE)", [&, threads](auto& s) { raw_userfaultfd_faults(pages, s, threads); }, {}});
        rows.push_back({"milk, mem_fifo inproc, called directly", [&, threads](auto& s) { milk_faults(Placement::Inproc, default_spin, pages, s, threads, Reach::Direct); }, {}});
        rows.push_back({"milk, mem_fifo inproc", [&, threads](auto& s) { milk_faults(Placement::Inproc, default_spin, pages, s, threads); }, {}});
        rows.push_back({"milk, mem_fifo process", [&, threads](auto& s) { milk_faults(Placement::Process, default_spin, pages, s, threads); }, {}});
        rows.push_back({"milk, mem_fifo inproc, spin_us 1000", [&, threads](auto& s) { milk_faults(Placement::Inproc, long_spin, pages, s, threads); }, {}});
        rows.push_back({"milk, mem_fifo process, spin_us 1000", [&, threads](auto& s) { milk_faults(Placement::Process, long_spin, pages, s, threads); }, {}});
        rows.push_back({"milk, mem_fifo on a polling channel", [&, threads](auto& s) { milk_polling_faults(pages, s, threads); }, {}});
    }
    const std::size_t per_count = rows.size() / 2;
    for (int round = 0; round < rounds; ++round)
        for (Row& row : rows) row.run(row.samples);
    const auto p50 = [&](std::size_t i) { return percentile(rows[i].samples, 0.5); };

    std::printf("Fault latency, one thread (ns per fault; p50 / p99 over %d x %u faults)\n", rounds, pages);
    std::printf("%-40s %10s %10s\n", "", "p50", "p99");
    for (std::size_t i = 0; i < per_count; ++i)
        std::printf("%-40s %10.0f %10.0f\n", rows[i].label, p50(i), percentile(rows[i].samples, 0.99));
    std::printf("\nFour threads faulting at once (wall time per fault, ns; median of %d rounds)\n", rounds);
    for (std::size_t i = per_count; i < rows.size(); ++i) std::printf("%-40s %10.0f\n", rows[i].label, p50(i));

    std::printf("\nRatios (p50; one thread, and four)                              value    target  result\n");
    const auto ratio = [](const std::string& label, double value, double target) {
        std::printf("%-62s %7.2f  <= %5.2f  %s\n", label.c_str(), value, target, value <= target ? "PASS" : "MISS");
    };
    for (std::size_t base : {std::size_t{0}, per_count}) {
        const std::string suffix = base == 0 ? "" : ", 4 threads";
        const double kernel = p50(base);
        const double raw = p50(base + 1);
        for (std::size_t milk = base + 2; milk < base + per_count; ++milk) {
            const std::string label = rows[milk].label + 6;  // without "milk, "
            ratio(label + " / raw userfaultfd" + suffix, p50(milk) / raw, 1.1);
        }
        double best = p50(base + 2);
        for (std::size_t milk = base + 3; milk < base + per_count; ++milk) best = std::min(best, p50(milk));
        ratio("best milk row / kernel minor fault" + suffix, best / kernel, 3.0);
        std::printf("%-62s %7.2f\n", ("raw userfaultfd / kernel minor fault" + suffix).c_str(), raw / kernel);
    }

    std::printf("\nHit ratios (%u references over %u pages, a pool of %u frames)\n", trace_length, trace_pages, trace_frames);
    std::printf("(aging: a round every %u references)\n", round_every);
    std::printf("%-24s %10s %10s %10s %10s %10s\n", "", "FIFO", "CLOCK", "aging", "LRU", "Belady");
    std::string data = "# pattern FIFO CLOCK aging LRU Belady\n";
    for (Pattern pattern : {Pattern::Sequential, Pattern::Uniform, Pattern::Zipf, Pattern::Shifting}) {
        const auto trace = make_trace(pattern, trace_pages, trace_frames, trace_length);
        const double fifo = policy_hit_ratio<components::policy::FifoRule>(trace, trace_pages, trace_frames);
        const double clock = policy_hit_ratio<components::policy::ClockRule>(trace, trace_pages, trace_frames);
        const double aging =
            policy_hit_ratio<components::policy::AgingRule>(trace, trace_pages, trace_frames, round_every);
        const double lru = lru_hit_ratio(trace, trace_pages, trace_frames);
        const double optimum = belady_hit_ratio(trace, trace_pages, trace_frames);
        std::printf("%-24s %10.3f %10.3f %10.3f %10.3f %10.3f\n", pattern_name(pattern), fifo, clock, aging, lru, optimum);
        data += std::string("\"") + pattern_name(pattern) + "\" " + milk::bench::gnuplot_number(fifo, 4) + " " +
                milk::bench::gnuplot_number(clock, 4) + " " + milk::bench::gnuplot_number(aging, 4) + " " +
                milk::bench::gnuplot_number(lru, 4) + " " + milk::bench::gnuplot_number(optimum, 4) + "\n";
    }
    fair_share_over_time(trace_pages, trace_frames, trace_length);
    std::filesystem::create_directories(out);
    const milk::bench::GnuplotFiles files{"milk-mem-bench", out, "mem-hit-ratios", 900, 500};
    const std::string script =
        "set title 'Hit ratio by access pattern (" + std::to_string(trace_pages) + " pages, " +
        std::to_string(trace_frames) + " frames)'\n"
        "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
        "set yrange [0:1]\nset ylabel 'hits / references'\nset key top right\nset grid ytics\n"
        "plot '" + files.data_path() + "' using 2:xtic(1) title 'FIFO', '' using 3 title 'CLOCK', '' using 4 title "
        "'aging (mem\\_lru)', '' using 5 title 'LRU (exact)', '' using 6 title 'Belady (optimum)'\n";
    if (!milk::bench::write_gnuplot(files, data, script, !no_plot)) return 1;
    std::printf("\nwrote %s\n", no_plot ? files.data_path().c_str() : files.png_path().c_str());
    return 0;
}
