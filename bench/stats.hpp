// Summaries of a case's samples: percentiles of round-trip times.
#pragma once

#include "clock.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace milk::bench {

struct LatencyStats {
    std::size_t count = 0;  // samples (round trips timed after warm-up)
    double min_ns = 0;
    double p50_ns = 0;
    double p99_ns = 0;
    double max_ns = 0;
    // Mean from the total elapsed time: samples are back to back (each ends
    // where the next begins), so their sum is exactly the time the loop ran.
    double mean_ns = 0;
    // Round trips per second over the whole timed loop (1e9 / mean).
    [[nodiscard]] double per_second() const { return mean_ns > 0 ? 1e9 / mean_ns : 0; }
};

// Sorts `ticks` in place and summarises it. p-th percentile: the smallest
// sample with at least p% of the samples at or below it (nearest rank).
[[nodiscard]] LatencyStats summarise(std::vector<std::uint64_t>& ticks, const TickClock& clock);

}  // namespace milk::bench
