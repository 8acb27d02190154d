// The clock every sample is read from.
//
// On x86 it is the time-stamp counter: one `rdtsc` costs a few nanoseconds,
// where a steady_clock::now() through the vDSO costs 15-25, which would be a
// visible share of a 100 ns round trip. The counter's rate is calibrated
// against steady_clock once at start-up (the CPUs here have an invariant
// TSC: constant_tsc, nonstop_tsc). Elsewhere it falls back to steady_clock.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace milk::bench {

class TickClock {
public:
    [[nodiscard]] static std::uint64_t now() noexcept;

    // Measures the tick rate against steady_clock over `calibration_ms`,
    // and the cost of one reading.
    [[nodiscard]] static TickClock calibrate(int calibration_ms);

    [[nodiscard]] double ns_per_tick() const { return m_ns_per_tick; }
    [[nodiscard]] double to_ns(double ticks) const { return ticks * m_ns_per_tick; }
    [[nodiscard]] std::uint64_t ticks_for_seconds(double seconds) const {
        return static_cast<std::uint64_t>(seconds * 1e9 / m_ns_per_tick);
    }
    // The smallest difference between two back-to-back readings, in ns: the
    // timer's share of every sample (each sample holds one reading).
    [[nodiscard]] double read_cost_ns() const { return m_read_cost_ns; }
    [[nodiscard]] const char* source() const;

private:
    double m_ns_per_tick = 1.0;
    double m_read_cost_ns = 0.0;
};

inline std::uint64_t TickClock::now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

}  // namespace milk::bench
