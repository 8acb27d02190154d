// milk-heap-ops: what the exchange heap's bookkeeping costs per buffer, on
// one thread, with no message in between (the transport's rings and
// doorbells are measured by milk-bench; this is only the heap's share).
//
//   own pair    allocate 8 bytes, export it (Held -> Lent), import the
//               handle back (Lent -> Held, as when the peer hands it back in
//               a reply), drop it: the kernel benchmark's Ping/Pong block.
//   peer pair   the other end imports a block of ours and drops it (the
//               handle goes home on the return ring); we export and later
//               drain it.
//   hand back   the other end imports our block and exports it straight back;
//               we import it and drop it.
//
// Each is printed in nanoseconds per iteration and as a ratio to one
// uncontended std::mutex lock/unlock pair on the same machine, which is the
// figure to compare across machines (and under emulation, where atomics are
// dear). With --iterations N and --only NAME it runs one case a fixed number
// of times and prints nothing timed, for `valgrind --tool=callgrind`
// instruction counts (run it twice with different N and divide the
// difference by the difference in N, which cancels the setup).
#include <milk/channel.hpp>
#include <milk/inproc.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

namespace {

milk::ChannelPair open_pair() {
    auto opened = milk::inproc::open_channel(
        {.ring_capacity = 64, .heap_bytes_per_side = 1u << 20, .spin_budget = {}, .wait_mode = milk::WaitMode::Poll});
    if (!opened.ok()) {
        std::fprintf(stderr, "milk-heap-ops: cannot open a channel\n");
        std::exit(1);
    }
    return std::move(opened).value();
}

template <typename T>
T take(milk::Result<T>&& result, const char* what) {
    if (!result.ok()) {
        std::fprintf(stderr, "milk-heap-ops: %s failed\n", what);
        std::exit(1);
    }
    return std::move(result).value();
}

void own_pair(milk::ChannelPair& pair) {
    milk::Buffer buffer = take(pair.first.allocate(8), "allocate");
    const milk::WireBytes wire = take(pair.first.export_buffer(std::move(buffer)), "export");
    milk::Buffer back = take(pair.first.import_buffer(wire), "import own");
    asm volatile("" : : "r"(back.data()) : "memory");
}

void peer_pair(milk::ChannelPair& pair) {
    milk::Buffer buffer = take(pair.first.allocate(8), "allocate");
    const milk::WireBytes wire = take(pair.first.export_buffer(std::move(buffer)), "export");
    milk::Buffer imported = take(pair.second.import_buffer(wire), "import peer");
    asm volatile("" : : "r"(imported.data()) : "memory");
}

void hand_back(milk::ChannelPair& pair) {
    milk::Buffer buffer = take(pair.first.allocate(8), "allocate");
    const milk::WireBytes wire = take(pair.first.export_buffer(std::move(buffer)), "export");
    milk::Buffer imported = take(pair.second.import_buffer(wire), "import peer");
    const milk::WireBytes back = take(pair.second.export_buffer(std::move(imported)), "export peer");
    milk::Buffer home = take(pair.first.import_buffer(back), "import own");
    asm volatile("" : : "r"(home.data()) : "memory");
}

std::mutex bench_mutex;

void mutex_pair(milk::ChannelPair&) {
    bench_mutex.lock();
    asm volatile("" : : : "memory");
    bench_mutex.unlock();
}

using Case = void (*)(milk::ChannelPair&);

struct NamedCase {
    const char* name;
    Case run;
};

constexpr NamedCase cases[] = {
    {"mutex", mutex_pair}, {"own", own_pair}, {"peer", peer_pair}, {"handback", hand_back}};

double nanoseconds_per_iteration(Case run, std::uint64_t iterations) {
    milk::ChannelPair pair = open_pair();
    for (std::uint64_t i = 0; i < iterations / 10 + 1; ++i) run(pair);  // warm up
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < iterations; ++i) run(pair);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    return std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(iterations);
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t iterations = 2'000'000;
    const char* only = nullptr;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--iterations") == 0) iterations = std::strtoull(argv[i + 1], nullptr, 10);
        else if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: milk-heap-ops [--iterations N] [--only mutex|own|peer|handback]\n");
            return 2;
        }
    }
    if (only != nullptr) {
        for (const auto& named : cases) {
            if (std::strcmp(named.name, only) != 0) continue;
            milk::ChannelPair pair = open_pair();
            for (std::uint64_t i = 0; i < iterations; ++i) named.run(pair);
            return 0;
        }
        std::fprintf(stderr, "milk-heap-ops: no case %s\n", only);
        return 2;
    }
    // Best of five runs: the floor, not the noise.
    double best[std::size(cases)];
    for (std::size_t c = 0; c < std::size(cases); ++c) {
        best[c] = 1e300;
        for (int round = 0; round < 5; ++round) {
            const double ns = nanoseconds_per_iteration(cases[c].run, iterations);
            if (ns < best[c]) best[c] = ns;
        }
    }
    std::printf("%-10s %12s %18s\n", "case", "ns/iter", "x mutex lock+unlock");
    for (std::size_t c = 0; c < std::size(cases); ++c)
        std::printf("%-10s %12.1f %18.2f\n", cases[c].name, best[c], best[c] / best[0]);
    return 0;
}
