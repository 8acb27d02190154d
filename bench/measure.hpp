// How a case is timed: warm-up, then back-to-back round trips, each one a
// sample, until the iteration count or the time budget runs out.
#pragma once

#include "clock.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace milk::bench {

struct RunLimits {
    std::size_t iterations = 0;    // timed round trips (at most)
    std::size_t warmup = 0;        // untimed round trips first (at most)
    double max_seconds = 1.0;      // time budget of the timed part
    double warmup_seconds = 0.2;   // time budget of the warm-up
};

// What a throughput case gets: stream up to `messages` one-way messages, or
// fewer if `max_seconds` runs out first.
struct StreamLimits {
    std::size_t messages = 0;
    std::size_t warmup = 0;
    double max_seconds = 1.0;
};

struct StreamResult {
    std::size_t messages = 0;  // delivered and counted by the receiver
    double seconds = 0;        // from the first send to the receiver's count coming back
    // Streams of several rounds add up: the rate is all messages over all
    // the time they took.
    StreamResult& operator+=(const StreamResult& other) {
        messages += other.messages;
        seconds += other.seconds;
        return *this;
    }
    [[nodiscard]] double per_second() const { return seconds > 0 ? static_cast<double>(messages) / seconds : 0; }
};

// Runs `round_trip(seq)` for the warm-up, then times each of up to
// `limits.iterations` calls and returns the samples, in ticks. seq counts up
// from 1 across warm-up and timed calls, so the peer can check it sees every
// message once, in order.
//
// One clock reading per sample: a sample runs from the end of the previous
// round trip to the end of this one, so the samples add up to the loop's
// exact running time and each includes the cost of one reading (see
// TickClock::read_cost_ns) and of storing the previous sample.
template <typename RoundTrip>
[[nodiscard]] std::vector<std::uint64_t> measure_round_trips(const RunLimits& limits, const TickClock& clock,
                                                             RoundTrip&& round_trip) {
    std::uint64_t seq = 1;
    const std::uint64_t warmup_end = TickClock::now() + clock.ticks_for_seconds(limits.warmup_seconds);
    for (std::size_t i = 0; i < limits.warmup; ++i) {
        round_trip(seq++);
        if (TickClock::now() > warmup_end) break;
    }
    std::vector<std::uint64_t> samples;
    samples.reserve(limits.iterations);
    const std::uint64_t budget = clock.ticks_for_seconds(limits.max_seconds);
    const std::uint64_t start = TickClock::now();
    std::uint64_t before = start;
    while (samples.size() < limits.iterations) {
        round_trip(seq++);
        const std::uint64_t after = TickClock::now();
        samples.push_back(after - before);
        before = after;
        if (after - start > budget) break;
    }
    return samples;
}

}  // namespace milk::bench

namespace milk::bench {

// Whether more than `budget` ticks have passed since `start`. Stream loops
// ask every few hundred messages, so the clock stays out of the hot path.
[[nodiscard]] inline bool over_budget(std::uint64_t start, std::uint64_t budget) {
    return TickClock::now() - start > budget;
}

// Times a one-way stream. `stream_once(max_messages, budget_ticks)` sends up
// to max_messages back to back (fewer if the budget runs out), then tells the
// receiver it is done and waits for the receiver's count of what arrived,
// which it checks against what it sent; it returns that count. The clock runs
// from the first send until the count is back, so every message was
// received, not merely queued. A warm-up stream runs first.
template <typename StreamOnce>
[[nodiscard]] StreamResult measure_stream(const StreamLimits& limits, const TickClock& clock,
                                          StreamOnce&& stream_once) {
    const std::uint64_t budget = clock.ticks_for_seconds(limits.max_seconds);
    if (limits.warmup > 0) static_cast<void>(stream_once(limits.warmup, budget));
    const std::uint64_t start = TickClock::now();
    const std::size_t delivered = stream_once(limits.messages, budget);
    const std::uint64_t end = TickClock::now();
    return StreamResult{delivered, clock.to_ns(static_cast<double>(end - start)) / 1e9};
}

}  // namespace milk::bench
