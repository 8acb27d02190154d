// The inproc transport end to end: order, batching, blocking, closing,
// timeouts, polling.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <milk/inproc.hpp>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

using milk::ChannelEnd;
using milk::Deadline;
using milk::ErrorCode;
using milk::Slot;
using milk::inproc::Options;
using milk::inproc::WaitMode;
using milk::test::numbered_slot;
using milk::test::open_raw_channel;
using namespace std::chrono_literals;

// Sends 0..count-1 from one thread, receives on another and counts the ones
// that arrive out of order. Then the sender drops its end and the receiver
// must see PeerClosed after the last message.
void check_order(const Options& options, std::uint64_t count) {
    auto [sender, receiver] = milk::inproc::open_channel(options).value();
    std::thread sending([&sender, count] {
        for (std::uint64_t i = 0; i < count; ++i) sender.send(numbered_slot(i)).value();
        sender.close();
    });
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto slot = receiver.receive(Deadline::never()).value();
        if (slot.tag != 1 || slot.get<std::uint64_t>(0) != i) ++wrong;
    }
    auto after = receiver.receive(Deadline::never());
    sending.join();
    CHECK(wrong == 0);
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::PeerClosed);
}

}  // namespace

TEST_CASE("inproc: a million messages arrive in order (spin, then sleep)") {
    check_order(Options{}, 1'000'000);
}

TEST_CASE("inproc: a million messages arrive in order (sleep at once, tiny ring)") {
    // Capacity 2 and no spinning: both the full-ring and the empty-ring
    // sleeps happen constantly.
    check_order(Options{.ring_capacity = 2, .spin_budget = 0ns}, 1'000'000);
}

TEST_CASE("inproc: a million messages arrive in order (polling)") {
    check_order(Options{.wait_mode = WaitMode::Poll}, 1'000'000);
}

TEST_CASE("inproc: send_batch keeps order across batches larger than the ring") {
    constexpr std::uint64_t count = 200'000;
    auto [sender, receiver] = milk::inproc::open_channel({.ring_capacity = 16}).value();
    std::thread sending([&sender] {
        std::vector<Slot> batch;
        std::uint64_t next = 0;
        for (std::uint64_t size = 1; next < count; size = size % 40 + 1) {
            batch.clear();
            for (std::uint64_t i = 0; i < size && next < count; ++i) batch.push_back(numbered_slot(next++));
            sender.send_batch(batch).value();
        }
    });
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < count; ++i)
        if (receiver.receive(Deadline::never()).value().get<std::uint64_t>(0) != i) ++wrong;
    sending.join();
    CHECK(wrong == 0);
}

TEST_CASE("inproc: round trips in both directions") {
    constexpr std::uint64_t rounds = 50'000;
    auto [client, server] = milk::inproc::open_channel().value();
    std::thread serving([&server] {
        for (std::uint64_t i = 0; i < rounds; ++i) {
            const auto request = server.receive(Deadline::never()).value();
            server.send(numbered_slot(request.get<std::uint64_t>(0) * 2)).value();
        }
    });
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < rounds; ++i) {
        client.send(numbered_slot(i)).value();
        if (client.receive(Deadline::never()).value().get<std::uint64_t>(0) != i * 2) ++wrong;
    }
    serving.join();
    CHECK(wrong == 0);
}

TEST_CASE("inproc: a receive blocked in the futex returns PeerClosed when the other end is dropped") {
    auto channel = open_raw_channel(256, 4096, milk::WaitPolicy{WaitMode::SpinThenSleep, 0ns});
    milk::Result<Slot> result = milk::Error{ErrorCode::InvalidArgument};
    // The deadline only turns a (buggy) hang into a failure.
    std::thread receiving([&] { result = channel.second->receive(Deadline::after(10s)); });
    while (!channel.first->peer_waiting_for_message()) std::this_thread::yield();
    channel.first.reset();  // dropping the end closes it
    receiving.join();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::PeerClosed);
}

TEST_CASE("inproc: a send blocked on a full ring returns PeerClosed when the receiver is dropped") {
    auto channel = open_raw_channel(2, 4096, milk::WaitPolicy{WaitMode::SpinThenSleep, 0ns});
    channel.first->send(numbered_slot(0)).value();
    channel.first->send(numbered_slot(1)).value();
    milk::Result<void> result;
    std::thread sending([&] { result = channel.first->send(numbered_slot(2)); });
    while (!channel.second->peer_waiting_for_room()) std::this_thread::yield();
    channel.second.reset();
    sending.join();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::PeerClosed);
}

TEST_CASE("inproc: dropping a ChannelEnd wakes a receiver blocked on the other end") {
    // The same through the public API, without knowing whether the receive
    // had already gone to sleep: either way it must end with PeerClosed.
    auto [a, b] = milk::inproc::open_channel({.spin_budget = 0ns}).value();
    milk::Result<Slot> result = milk::Error{ErrorCode::InvalidArgument};
    std::thread receiving([&] { result = b.receive(Deadline::after(10s)); });
    { ChannelEnd dropped = std::move(a); }
    receiving.join();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::PeerClosed);
}

TEST_CASE("inproc: messages sent before a close are delivered, then PeerClosed, and it stays closed") {
    auto [a, b] = milk::inproc::open_channel().value();
    for (std::uint64_t i = 0; i < 3; ++i) a.send(numbered_slot(i)).value();
    a.close();
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(b.receive(Deadline::now()).value().get<std::uint64_t>(0) == i);
    CHECK(b.receive(Deadline::now()).error().code == ErrorCode::PeerClosed);
    CHECK(b.receive(Deadline::never()).error().code == ErrorCode::PeerClosed);
    CHECK(b.send(numbered_slot(9)).error().code == ErrorCode::PeerClosed);
}

TEST_CASE("inproc: fail() hands the reason to the peer") {
    auto [a, b] = milk::inproc::open_channel().value();
    const milk::Error returned = a.fail(milk::Error{ErrorCode::ProtocolViolation, "tag 7 not allowed", 7});
    CHECK(returned.code == ErrorCode::ProtocolViolation);
    CHECK_FALSE(a.valid());
    auto result = b.receive(Deadline::never());
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::ProtocolViolation);
    CHECK(result.error().detail == 7);
    CHECK(b.send(numbered_slot(1)).error().code == ErrorCode::PeerClosed);
}

TEST_CASE("inproc: receive with a timeout returns TimedOut, not before the timeout") {
    for (const auto mode : {WaitMode::SpinThenSleep, WaitMode::Poll}) {
        auto [a, b] = milk::inproc::open_channel({.wait_mode = mode}).value();
        const auto start = std::chrono::steady_clock::now();
        auto result = b.receive(Deadline::after(50ms));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().code == ErrorCode::TimedOut);
        CHECK(elapsed >= 50ms);
        CHECK(elapsed < 5s);
        // The channel still works after a timeout.
        a.send(numbered_slot(5)).value();
        CHECK(b.receive(Deadline::after(5s)).value().get<std::uint64_t>(0) == 5);
    }
}

TEST_CASE("inproc: a receive that must not wait gives WouldBlock when empty") {
    auto [a, b] = milk::inproc::open_channel().value();
    CHECK(b.receive(Deadline::now()).error().code == ErrorCode::WouldBlock);
    a.send(numbered_slot(42)).value();
    CHECK(b.receive(Deadline::now()).value().get<std::uint64_t>(0) == 42);
    CHECK(b.receive(Deadline::now()).error().code == ErrorCode::WouldBlock);
}

TEST_CASE("inproc: either end may go away first") {
    SUBCASE("first, then second") {
        auto pair = milk::inproc::open_channel().value();
        pair.first.close();
        CHECK(pair.second.receive(Deadline::now()).error().code == ErrorCode::PeerClosed);
    }
    SUBCASE("second, then first") {
        auto pair = milk::inproc::open_channel().value();
        pair.second.close();
        CHECK(pair.first.send(numbered_slot(1)).error().code == ErrorCode::PeerClosed);
    }
}

TEST_CASE("inproc: options out of range are refused") {
    CHECK(milk::inproc::open_channel({.ring_capacity = 3}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::inproc::open_channel({.ring_capacity = 0}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::inproc::open_channel({.heap_bytes_per_side = 5000}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::inproc::open_channel({.spin_budget = -1ns}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::inproc::open_channel({.ring_capacity = 2, .heap_bytes_per_side = 64}).ok());
}
