// The hardware floor: one cache line bounced between the two CPUs with
// compare-and-swap. Nothing can hand a message from one core to another
// faster than the line that carries it moves, so half of this round trip is
// "one cache-line transfer" in the ratios.
#include "cases.hpp"

#include <atomic>
#include <cstdint>
#include <memory>

namespace milk::bench {
namespace {

struct alignas(64) Line {
    std::atomic<std::uint64_t> word{0};
};

constexpr std::uint64_t stop_value = ~std::uint64_t{0};

// The floor is measured at its best: a tight loop of load and `pause`, with
// none of the clock reads of milk's polling loop (spin_until). The yield
// every 1024 rounds only matters when both sides share one CPU.
void spin_pause(unsigned& round) {
    cpu_pause();
    if (++round % 1024 == 0) yield_cpu();
}

// The word counts hand-offs: the client turns 2k into 2k+1, the server
// answers by turning 2k+1 into 2k+2.
void serve(Line& line) {
    unsigned round = 0;
    for (std::uint64_t next = 1;; next += 2) {
        std::uint64_t seen;
        while ((seen = line.word.load(std::memory_order_acquire)) != next) {
            if (seen == stop_value) return;
            spin_pause(round);
        }
        std::uint64_t expected = next;
        if (!line.word.compare_exchange_strong(expected, next + 1, std::memory_order_acq_rel))
            fatal("cas ping-pong: the server's compare-and-swap failed");
    }
}

}  // namespace

LatencyRow run_cas_ping_pong(const CaseContext& context) {
    LatencyRow row;
    row.id = "cas_ping_pong";
    row.label = "cache-line ping-pong (CAS), spin";
    row.measured = true;
    row.note = "no queue, so no stream figure";
    auto line = std::make_unique<Line>();
    {
        PinnedThread server(context.cpus.server_cpu, [&line] { serve(*line); });
        unsigned round = 0;
        row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
            std::uint64_t expected = 2 * seq - 2;
            if (!line->word.compare_exchange_strong(expected, 2 * seq - 1, std::memory_order_acq_rel))
                fatal("cas ping-pong: the client's compare-and-swap failed");
            while (line->word.load(std::memory_order_acquire) != 2 * seq) spin_pause(round);
        });
        line->word.store(stop_value, std::memory_order_release);
    }
    return row;
}

}  // namespace milk::bench
