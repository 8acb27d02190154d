// How long a receive may wait.
#pragma once

#include <chrono>

namespace milk {

class Deadline {
public:
    using Clock = std::chrono::steady_clock;

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
