// A doorbell: how a side that waits (for a message, or for room in a full
// ring) sleeps, and how the other side wakes it only when it really sleeps.
//
// The shared part is one 32-bit word on its own cache line inside the
// channel's region (DoorbellWord): Awake (0) or Sleeping (1). The waiter spins
// for a budget, re-checking its condition; then it announces Sleeping,
// re-checks the condition once more, and only then FUTEX_WAITs on the word.
// The notifier, after publishing (a ring index or a closed flag), swaps the
// word to Awake and issues FUTEX_WAKE only if it was Sleeping.
//
// Every access to the word is an atomic exchange (read-modify-write, seq_cst),
// which is what makes a lost wake-up impossible (docs/runtime.md has the
// argument): the notifier's exchange and the waiter's exchange are ordered in
// the word's modification order; if the notifier's comes first, the waiter's
// exchange reads it and so synchronises with it, and the waiter's re-check
// sees what the notifier published; if the waiter's comes first, the notifier
// reads Sleeping and wakes it. FUTEX_WAIT itself compares the word with
// Sleeping atomically in the kernel, so a wake between the re-check and the
// sleep makes the wait return at once.
//
// The futex is not FUTEX_PRIVATE: the same code works when the region is
// shared between processes. Nothing here includes a Linux header, so the
// header can be compiled by the kernel build too; the system calls live in
// doorbell.cpp.
#pragma once

#include "deadline.hpp"
#include "doorbell_word.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace milk {

// How a side waits.
enum class WaitMode : std::uint8_t {
    // Spin for the budget, then sleep on the futex.
    SpinThenSleep,
    // Never sleep: spin (yielding the CPU now and then) until the condition
    // holds or the deadline passes. Notifiers then skip the wake-up entirely.
    Poll,
};

struct WaitPolicy {
    WaitMode mode = WaitMode::SpinThenSleep;
    // How long to spin before sleeping; zero sleeps at once. Unused by Poll.
    std::chrono::nanoseconds spin_budget = std::chrono::microseconds(10);
};

class Doorbell {
public:
    static constexpr std::uint32_t awake = 0;
    static constexpr std::uint32_t sleeping = 1;

    enum class WaitOutcome : std::uint8_t { Ready, TimedOut };

    Doorbell() = default;
    Doorbell(DoorbellWord* word, WaitPolicy policy) : m_word(&word->state), m_policy(policy) {}

    // Notifier side: call after publishing whatever the waiter waits for.
    // Wakes the waiter if (and only if) it announced that it sleeps.
    void ring() noexcept {
        // A polling waiter never sleeps, so in Poll mode a send costs no
        // atomic read-modify-write at all.
        if (m_policy.mode == WaitMode::Poll) return;
        if (word().exchange(awake, std::memory_order_seq_cst) == sleeping) wake();
    }

    // Waiter side: returns Ready as soon as `ready()` holds, TimedOut once the
    // deadline has passed. `ready` must read what the notifier publishes with
    // acquire loads (ring indices, closed flags); it may be called many times.
    template <typename Ready>
    WaitOutcome wait(Ready&& ready, const Deadline& deadline) {
        if (ready()) return WaitOutcome::Ready;
        const bool spin_forever = m_policy.mode == WaitMode::Poll;
        if (spin_forever || m_policy.spin_budget.count() > 0) {
            const auto spin_end = Deadline::Clock::now() + m_policy.spin_budget;
            for (std::uint32_t round = 1;; ++round) {
                cpu_relax();
                if (ready()) return WaitOutcome::Ready;
                // Reading the clock costs about as much as a few dozen
                // pauses, so it is read only every 64 rounds.
                if (round % 64 != 0) continue;
                const auto now = Deadline::Clock::now();
                if (!deadline.is_never() && now >= deadline.at()) return WaitOutcome::TimedOut;
                if (spin_forever) {
                    // Polling must not starve the peer when both share a CPU.
                    if (round % 1024 == 0) yield_cpu();
                } else if (now >= spin_end) {
                    break;
                }
            }
        }
        for (;;) {
            // Announce, then re-check: see the header comment for why this
            // order cannot lose a wake-up.
            word().exchange(sleeping, std::memory_order_seq_cst);
            if (ready()) {
                word().exchange(awake, std::memory_order_seq_cst);
                return WaitOutcome::Ready;
            }
            if (deadline.passed()) {
                word().exchange(awake, std::memory_order_seq_cst);
                return WaitOutcome::TimedOut;
            }
            sleep(deadline);
        }
    }

    // Whether the waiter has announced that it sleeps (or is about to).
    // Diagnostic only: the answer may be stale when it arrives.
    [[nodiscard]] bool waiter_sleeping() const {
        return std::atomic_ref<std::uint32_t>(*m_word).load(std::memory_order_acquire) == sleeping;
    }

    [[nodiscard]] const WaitPolicy& policy() const { return m_policy; }

private:
    std::atomic_ref<std::uint32_t> word() const { return std::atomic_ref<std::uint32_t>(*m_word); }

    static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield" ::: "memory");
#endif
    }

    // FUTEX_WAIT while the word is Sleeping, until woken, a signal, or the
    // deadline (absolute, CLOCK_MONOTONIC). Spurious returns are fine: the
    // caller loops and re-checks.
    void sleep(const Deadline& deadline) noexcept;
    // FUTEX_WAKE one waiter.
    void wake() noexcept;
    static void yield_cpu() noexcept;

    std::uint32_t* m_word = nullptr;
    WaitPolicy m_policy{};
};

}  // namespace milk
