// The memory manager with its policy inside milk.ko: the user-space mechanism
// (milk::mem::ManagedRegion, real faults through userfaultfd in the VM's
// kernel) talks to the mem_* components that milk.ko serves in a kernel
// thread of the channel, the same components the host runs in user space.
// Checks what the user-space tests check (tests/mem/managed_region_test.cpp):
// every word written is read back after evictions, from two threads, and
// the kernel's policy answered every batch (no fallback).
#include <milk/kernel.hpp>
#include <milk/mem/managed_region.hpp>

#include <cstdio>
#include <random>
#include <thread>
#include <vector>

namespace {

namespace Mem = milk::mem::Mem;

bool run(const char* component) {
    milk::kernel::Options options;
    auto end = milk::kernel::open_channel<Mem::Contract>(component, options);
    if (!end.ok()) {
        std::printf("%s: open_channel: %s\n", component, milk::describe(end.error().code));
        return false;
    }
    // The kernel's answers come slower under emulation: a generous watchdog.
    auto made = milk::mem::ManagedRegion::try_create(Mem::Contract::client(std::move(end).value()),
                                                     {.pages = 64, .frames = 8,
                                                      .policy_deadline = std::chrono::milliseconds(5000)});
    if (!made.ok()) {
        std::printf("%s: ManagedRegion::try_create: %s (%s)\n", component, milk::describe(made.error().code),
                    made.error().what);
        return false;
    }
    auto region = std::move(made).value();
    const std::size_t words_per_page = region->page_size() / sizeof(std::uint64_t);
    auto* words = reinterpret_cast<std::uint64_t*>(region->data());
    constexpr std::uint32_t threads = 2;
    std::vector<std::uint64_t> wrong(threads, 0);
    std::vector<std::thread> workers;
    for (std::uint32_t t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            // Thread t owns the pages p with p % threads == t.
            std::vector<std::uint64_t> shadow(64 * words_per_page, 0);
            std::minstd_rand random(t + 1);
            for (std::uint32_t i = 0; i < 2500; ++i) {
                const std::uint32_t page = t + threads * static_cast<std::uint32_t>(random() % (64 / threads));
                const std::size_t word = page * words_per_page + random() % words_per_page;
                if (words[word] != shadow[word]) ++wrong[t];
                shadow[word] = (std::uint64_t{t} << 56) | i;
                words[word] = shadow[word];
            }
            for (std::uint32_t page = t; page < 64; page += threads)
                for (std::size_t w = 0; w < words_per_page; ++w)
                    if (words[page * words_per_page + w] != shadow[page * words_per_page + w]) ++wrong[t];
        });
    }
    for (std::thread& worker : workers) worker.join();
    const milk::mem::RegionStats stats = region->stats();
    const std::uint64_t bad = wrong[0] + wrong[1];
    std::printf("%s in milk.ko: %llu faults in %llu batches, %llu evictions, %llu pages back from the store, "
                "%llu words wrong, fallback %d\n",
                component, static_cast<unsigned long long>(stats.faults), static_cast<unsigned long long>(stats.batches),
                static_cast<unsigned long long>(stats.evictions), static_cast<unsigned long long>(stats.copies_in),
                static_cast<unsigned long long>(bad), static_cast<int>(stats.fallback));
    return bad == 0 && stats.fallback == milk::mem::FallbackReason::None && stats.evictions > 0 &&
           stats.copies_in > 0 && stats.resident <= 8;
}

}  // namespace

int main() {
    bool ok = run("mem_fifo");
    ok = run("mem_clock") && ok;
    return ok ? 0 : 1;
}
