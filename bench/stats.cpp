#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace milk::bench {
namespace {

double nearest_rank(const std::vector<std::uint64_t>& sorted, double percent) {
    const auto n = static_cast<double>(sorted.size());
    auto rank = static_cast<std::size_t>(std::ceil(percent / 100.0 * n));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return static_cast<double>(sorted[rank - 1]);
}

}  // namespace

LatencyStats summarise(std::vector<std::uint64_t>& ticks, const TickClock& clock) {
    LatencyStats stats;
    if (ticks.empty()) return stats;
    std::sort(ticks.begin(), ticks.end());
    const long double total = std::accumulate(ticks.begin(), ticks.end(), 0.0L);
    stats.count = ticks.size();
    stats.min_ns = clock.to_ns(static_cast<double>(ticks.front()));
    stats.max_ns = clock.to_ns(static_cast<double>(ticks.back()));
    stats.p50_ns = clock.to_ns(nearest_rank(ticks, 50));
    stats.p99_ns = clock.to_ns(nearest_rank(ticks, 99));
    stats.mean_ns = clock.to_ns(static_cast<double>(total / static_cast<long double>(ticks.size())));
    return stats;
}

}  // namespace milk::bench
