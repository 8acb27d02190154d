// The system calls behind milk::Doorbell: futex wait and wake, sched_yield.
#include "milk/doorbell.hpp"

#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace milk {

void Doorbell::sleep(const Deadline& deadline) noexcept {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, which is the
    // clock behind std::chrono::steady_clock on Linux, so the deadline needs
    // no conversion and survives spurious wake-ups without drifting.
    // Deliberately no FUTEX_PRIVATE_FLAG: the word may live in memory shared
    // with another process.
    timespec at{};
    const timespec* timeout = nullptr;
    if (!deadline.is_never()) {
        const auto since_epoch = deadline.at().time_since_epoch();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
        at.tv_sec = static_cast<time_t>(seconds.count());
        at.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count());
        timeout = &at;
    }
    // EAGAIN (the word was no longer Sleeping), EINTR and ETIMEDOUT all mean
    // "look again", which the caller does; no result to inspect.
    static_cast<void>(syscall(SYS_futex, m_word, FUTEX_WAIT_BITSET, sleeping, timeout, nullptr, FUTEX_BITSET_MATCH_ANY));
}

void Doorbell::wake() noexcept {
    // One waiter per doorbell by construction (one consumer per ring).
    static_cast<void>(syscall(SYS_futex, m_word, FUTEX_WAKE, 1, nullptr, nullptr, 0));
}

void Doorbell::yield_cpu() noexcept { sched_yield(); }

}  // namespace milk
