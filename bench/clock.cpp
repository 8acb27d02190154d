#include "clock.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace milk::bench {

TickClock TickClock::calibrate(int calibration_ms) {
    TickClock clock;
#if defined(__x86_64__) || defined(__i386__)
    using Steady = std::chrono::steady_clock;
    const auto steady_start = Steady::now();
    const std::uint64_t ticks_start = now();
    std::this_thread::sleep_for(std::chrono::milliseconds(calibration_ms));
    const std::uint64_t ticks_end = now();
    const auto steady_end = Steady::now();
    const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(steady_end - steady_start).count());
    clock.m_ns_per_tick = ns / static_cast<double>(ticks_end - ticks_start);
#else
    (void)calibration_ms;
    clock.m_ns_per_tick = 1.0;  // steady_clock counts nanoseconds on Linux
#endif
    std::uint64_t best = ~std::uint64_t{0};
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t a = now();
        const std::uint64_t b = now();
        best = std::min(best, b - a);
    }
    clock.m_read_cost_ns = clock.to_ns(static_cast<double>(best));
    return clock;
}

const char* TickClock::source() const {
#if defined(__x86_64__) || defined(__i386__)
    return "rdtsc, calibrated against steady_clock";
#else
    return "steady_clock";
#endif
}

}  // namespace milk::bench
