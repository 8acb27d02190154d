// milk::Doorbell: sleeping, waking, timeouts, polling, and no lost wake-ups.
#include <doctest/doctest.h>

#include <milk/doorbell.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace {

using milk::Deadline;
using milk::Doorbell;
using milk::DoorbellWord;
using milk::WaitMode;
using milk::WaitPolicy;
using namespace std::chrono_literals;

// Generous: only a lost wake-up (a bug) gets anywhere near it, and then the
// test fails with TimedOut instead of hanging.
constexpr auto no_hang = 10s;

}  // namespace

TEST_CASE("doorbell: a waiter that sleeps is woken by ring()") {
    DoorbellWord word{};
    Doorbell waiter_side(&word, WaitPolicy{WaitMode::SpinThenSleep, 0ns});
    Doorbell notifier_side(&word, WaitPolicy{WaitMode::SpinThenSleep, 0ns});
    std::atomic<bool> published{false};
    Doorbell::WaitOutcome outcome = Doorbell::WaitOutcome::TimedOut;

    std::thread waiter([&] {
        outcome = waiter_side.wait([&] { return published.load(std::memory_order_acquire); },
                                   Deadline::after(no_hang));
    });
    // Wait until the waiter has really announced that it sleeps, so the
    // test exercises the futex path, not only the re-check.
    while (!notifier_side.waiter_sleeping()) std::this_thread::yield();
    published.store(true, std::memory_order_release);
    notifier_side.ring();
    waiter.join();
    CHECK(outcome == Doorbell::WaitOutcome::Ready);
    CHECK_FALSE(notifier_side.waiter_sleeping());
}

TEST_CASE("doorbell: wait returns TimedOut no earlier than the deadline") {
    DoorbellWord word{};
    Doorbell bell(&word, WaitPolicy{WaitMode::SpinThenSleep, 1us});
    const auto start = std::chrono::steady_clock::now();
    const auto outcome = bell.wait([] { return false; }, Deadline::after(30ms));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(outcome == Doorbell::WaitOutcome::TimedOut);
    CHECK(elapsed >= 30ms);
    CHECK(elapsed < 5s);
    CHECK_FALSE(bell.waiter_sleeping());
}

TEST_CASE("doorbell: poll mode times out too, and never announces sleep") {
    DoorbellWord word{};
    Doorbell bell(&word, WaitPolicy{WaitMode::Poll, 0ns});
    const auto start = std::chrono::steady_clock::now();
    CHECK(bell.wait([] { return false; }, Deadline::after(20ms)) == Doorbell::WaitOutcome::TimedOut);
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    CHECK(word.state == Doorbell::awake);
}

TEST_CASE("doorbell: poll mode sees a publish without any ring()") {
    DoorbellWord word{};
    Doorbell bell(&word, WaitPolicy{WaitMode::Poll, 0ns});
    std::atomic<bool> published{false};
    std::thread publisher([&] { published.store(true, std::memory_order_release); });
    CHECK(bell.wait([&] { return published.load(std::memory_order_acquire); }, Deadline::after(no_hang)) ==
          Doorbell::WaitOutcome::Ready);
    publisher.join();
    CHECK(word.state == Doorbell::awake);
}

TEST_CASE("doorbell: ping-pong through sleeping doorbells loses no wake-up") {
    // Two threads hand a counter back and forth; each waits on its own bell
    // with no spinning, so nearly every hand-off races a sleep against a
    // wake. A lost wake-up shows up as a TimedOut outcome.
    constexpr std::uint32_t rounds = 20'000;
    DoorbellWord ping_word{};
    DoorbellWord pong_word{};
    const WaitPolicy policy{WaitMode::SpinThenSleep, 0ns};
    std::atomic<std::uint32_t> turn{0};  // even: ping's turn, odd: pong's
    std::atomic<std::uint32_t> timeouts{0};

    auto player = [&](DoorbellWord& mine, DoorbellWord& theirs, std::uint32_t parity) {
        Doorbell my_bell(&mine, policy);
        Doorbell their_bell(&theirs, policy);
        for (std::uint32_t i = 0; i < rounds; ++i) {
            const auto outcome = my_bell.wait(
                [&] { return turn.load(std::memory_order_acquire) % 2 == parity; }, Deadline::after(no_hang));
            if (outcome != Doorbell::WaitOutcome::Ready) {
                timeouts.fetch_add(1);
                return;
            }
            turn.fetch_add(1, std::memory_order_release);
            their_bell.ring();
        }
    };
    std::thread ping([&] { player(ping_word, pong_word, 0); });
    std::thread pong([&] { player(pong_word, ping_word, 1); });
    ping.join();
    pong.join();
    CHECK(timeouts.load() == 0);
    CHECK(turn.load() == 2 * rounds);
}
