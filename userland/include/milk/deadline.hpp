// How long a receive may wait.
//
// In user space the clock is std::chrono::steady_clock. A freestanding build
// (MILK_FREESTANDING: the runtime compiled into milk.ko) has no libstdc++
// runtime, and steady_clock::now() lives there; the environment supplies a
// monotonic nanosecond clock instead (the module: ktime_get_ns through its
// shim). Duration arithmetic is header-only and works in both.
#pragma once

#include <chrono>
#include <cstdint>

namespace milk {

#if defined(MILK_FREESTANDING)
// Nanoseconds since an arbitrary fixed point, monotonic. Defined by the
// freestanding environment.
[[nodiscard]] std::int64_t freestanding_clock_ns() noexcept;

// A std::chrono clock over freestanding_clock_ns(), so that Deadline has one
// definition for both builds.
struct FreestandingClock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<FreestandingClock>;
    static constexpr bool is_steady = true;
    [[nodiscard]] static time_point now() noexcept { return time_point(duration(freestanding_clock_ns())); }
};
#endif

class Deadline {
public:
#if defined(MILK_FREESTANDING)
    using Clock = FreestandingClock;
#else
    using Clock = std::chrono::steady_clock;
#endif

    [[nodiscard]] static Deadline never() { return Deadline(Clock::time_point::max()); }
    [[nodiscard]] static Deadline now() { return Deadline(Clock::now()); }
    [[nodiscard]] static Deadline after(std::chrono::nanoseconds timeout) { return Deadline(Clock::now() + timeout); }

    [[nodiscard]] bool is_never() const { return m_at == Clock::time_point::max(); }
    [[nodiscard]] bool passed() const { return !is_never() && Clock::now() >= m_at; }
    [[nodiscard]] Clock::time_point at() const { return m_at; }

private:
    explicit Deadline(Clock::time_point at) : m_at(at) {}
    Clock::time_point m_at;
};

}  // namespace milk
