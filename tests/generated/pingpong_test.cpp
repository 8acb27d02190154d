// The generated endpoints of contracts/pingpong.contract over the inproc
// transport: round trips with `bytes`, the end of a session, a dropped peer,
// timeouts that hand the endpoint back, and the abort on a moved-from endpoint.
#include "child_process.hpp"
#include "pingpong.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <thread>

namespace {

using namespace demo::ping;
using PingPong::Bye;
using PingPong::Ping;
using PingPong::Pong;
namespace state = PingPong::state;

// Fills a buffer with a pattern that depends on `seq`, so that a payload
// that arrives for the wrong message (or not at all) is noticed.
void fill(milk::Buffer& buffer, std::uint32_t seq) {
    for (std::size_t i = 0; i < buffer.size(); ++i) buffer.data()[i] = static_cast<std::byte>((seq * 31 + i) & 0xff);
}

bool holds_pattern(const milk::Buffer& buffer, std::uint32_t seq) {
    for (std::size_t i = 0; i < buffer.size(); ++i) {
        if (buffer.data()[i] != static_cast<std::byte>((seq * 31 + i) & 0xff)) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("pingpong: round trips move the payload by ownership, not by copy") {
    auto endpoints = PingPong::open_inproc();
    REQUIRE(endpoints.ok());
    auto [client, server] = std::move(endpoints).value();

    for (std::uint32_t seq = 1; seq <= 200; ++seq) {
        milk::Buffer payload = client.allocate(100 + seq).value();
        fill(payload, seq);
        const std::byte* sent_at = payload.data();

        auto waiting = std::move(client).send(Ping{seq, std::move(payload)});
        REQUIRE(waiting.ok());
        CHECK_FALSE(payload.valid());  // NOLINT(bugprone-use-after-move): checking the move itself

        const std::byte* received_at = nullptr;
        auto served = std::move(server).receive(
            [&](Ping&& ping, auto&& next) -> milk::Result<PingPong::Server<state::Idle>> {
                received_at = ping.payload.data();
                CHECK(ping.seq == seq);
                CHECK(ping.payload.size() == 100 + seq);
                CHECK(holds_pattern(ping.payload, seq));
                return std::move(next).send(Pong{ping.seq * 2, Mode::safe, Point{-1, static_cast<std::int32_t>(seq)}});
            },
            [&](Bye&&) -> milk::Result<PingPong::Server<state::Idle>> {
                FAIL("the client said Bye");
                return milk::Error{milk::ErrorCode::ProtocolViolation};
            });
        REQUIRE(served.ok());
        server = std::move(served).value();
        // The same bytes at the same address: the buffer moved, nothing was copied.
        CHECK(received_at == sent_at);

        auto answered = std::move(waiting).value().receive([&](Pong&& pong, auto&& next) {
            CHECK(pong.seq == seq * 2);
            CHECK(pong.mode == Mode::safe);
            CHECK(pong.where.x == -1);
            CHECK(pong.where.y == static_cast<std::int32_t>(seq));
            return std::move(next);
        });
        REQUIRE(answered.ok());
        client = std::move(answered).value();
    }

    REQUIRE(std::move(client).send(Bye{}).ok());
    bool said_bye = false;
    auto last = std::move(server).receive([&](Ping&&, auto&&) { return false; },
                                          [&](Bye&&) {
                                              said_bye = true;
                                              return true;
                                          });
    REQUIRE(last.ok());
    CHECK(last.value());
    CHECK(said_bye);
}

TEST_CASE("pingpong: client and server on two threads") {
    auto endpoints = PingPong::open_inproc();
    REQUIRE(endpoints.ok());
    auto [client, server] = std::move(endpoints).value();
    constexpr std::uint32_t rounds = 2000;

    std::thread server_thread([endpoint = std::move(server)]() mutable {
        for (;;) {
            std::optional<PingPong::Server<state::Idle>> again;
            auto step = std::move(endpoint).receive(
                [&](Ping&& ping, auto&& next) {
                    const bool intact = holds_pattern(ping.payload, ping.seq);
                    auto idle = std::move(next).send(Pong{ping.seq, intact ? Mode::fast : Mode::safe, Point{}});
                    if (!idle.ok()) return false;
                    again.emplace(std::move(idle).value());
                    return true;
                },
                [&](Bye&&) { return false; });
            if (!step.ok() || !step.value()) return;
            endpoint = std::move(*again);
        }
    });

    std::uint32_t intact = 0;
    for (std::uint32_t seq = 0; seq < rounds; ++seq) {
        milk::Buffer payload = client.allocate(64).value();
        fill(payload, seq);
        auto waiting = std::move(client).send(Ping{seq, std::move(payload)});
        REQUIRE(waiting.ok());
        auto idle = std::move(waiting).value().receive([&](Pong&& pong, auto&& next) {
            if (pong.seq == seq && pong.mode == Mode::fast) ++intact;
            return std::move(next);
        });
        REQUIRE(idle.ok());
        client = std::move(idle).value();
    }
    REQUIRE(std::move(client).send(Bye{}).ok());
    server_thread.join();
    CHECK(intact == rounds);
}

TEST_CASE("pingpong: handlers may return void, a value, or a Result") {
    auto [client, server] = PingPong::open_inproc().value();
    milk::Buffer payload = client.allocate(8).value();
    auto waiting = std::move(client).send(Ping{1, std::move(payload)});
    REQUIRE(waiting.ok());

    // void handlers: the receive returns Result<void>.
    std::optional<PingPong::Server<state::Waiting>> replying;
    milk::Result<void> received = std::move(server).receive(
        [&](Ping&&, PingPong::Server<state::Waiting>&& next) { replying.emplace(std::move(next)); },
        [&](Bye&&) {});
    REQUIRE(received.ok());
    REQUIRE(replying.has_value());
    REQUIRE(std::move(*replying).send(Pong{1, Mode::fast, Point{}}).ok());

    // A handler returning a Result<T>: the receive returns it as it is, so
    // the handler's own error comes back the way the channel's would.
    milk::Result<int> failed = std::move(waiting).value().receive([&](Pong&&, auto&&) -> milk::Result<int> {
        return milk::Error{milk::ErrorCode::InvalidArgument, "the handler's own error"};
    });
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == milk::ErrorCode::InvalidArgument);
    CHECK(std::strcmp(failed.error().what, "the handler's own error") == 0);
}

TEST_CASE("pingpong: allocate does not consume the endpoint") {
    auto [client, server] = PingPong::open_inproc().value();
    milk::Buffer first = client.allocate(16).value();
    milk::Buffer second = client.allocate(16).value();
    CHECK(first.data() != second.data());
    CHECK(std::move(client).send(Ping{1, std::move(second)}).ok());
}

TEST_CASE("pingpong: a transition to end returns Result<void> and ends both sides") {
    auto [client, server] = PingPong::open_inproc().value();
    milk::Result<void> sent = std::move(client).send(Bye{});
    REQUIRE(sent.ok());

    // The server's handler for Bye takes the message only: there is no
    // endpoint after `end`.
    int byes = 0;
    auto received = std::move(server).receive([&](Ping&&, auto&&) { return 0; },
                                              [&](Bye&&) { return ++byes; });
    REQUIRE(received.ok());
    CHECK(received.value() == 1);
}

TEST_CASE("pingpong: dropping an endpoint before end gives the peer PeerClosed") {
    SUBCASE("the client goes while the server waits for a message") {
        auto [client, server] = PingPong::open_inproc().value();
        { auto dropped = std::move(client); }
        bool handled = false;
        auto received = std::move(server).receive([&](Ping&&, auto&&) { handled = true; },
                                                  [&](Bye&&) { handled = true; });
        REQUIRE_FALSE(received.ok());
        CHECK(received.error().code == milk::ErrorCode::PeerClosed);
        CHECK_FALSE(handled);
    }
    SUBCASE("the server goes while the client is blocked in receive on another thread") {
        auto [client, server] = PingPong::open_inproc().value();
        milk::Buffer payload = client.allocate(8).value();
        auto waiting = std::move(client).send(Ping{1, std::move(payload)});
        REQUIRE(waiting.ok());
        milk::ErrorCode code = milk::ErrorCode::InvalidArgument;
        std::thread receiver([&] {
            auto received = std::move(waiting).value().receive([](Pong&&, auto&&) {});
            if (!received.ok()) code = received.error().code;
        });
        // Not a timed test: the receiver may be spinning, sleeping, or not
        // started yet; in every case the close must wake it.
        { auto dropped = std::move(server); }
        receiver.join();
        CHECK(code == milk::ErrorCode::PeerClosed);
    }
}

TEST_CASE("pingpong: receive_for and try_receive hand the endpoint back when nothing came") {
    auto [client, server] = PingPong::open_inproc().value();
    milk::Buffer payload = client.allocate(8).value();
    auto sent = std::move(client).send(Ping{7, std::move(payload)});
    REQUIRE(sent.ok());
    auto waiting = std::move(sent).value();

    // Nothing has been answered yet: the timeout handler gets the endpoint.
    std::optional<PingPong::Client<state::Waiting>> back;
    auto timed_out = std::move(waiting).receive_for(
        std::chrono::milliseconds(1), [&](Pong&&, auto&&) { return 1; },
        [&](milk::TimedOut, PingPong::Client<state::Waiting>&& self) {
            back.emplace(std::move(self));
            return 0;
        });
    REQUIRE(timed_out.ok());
    CHECK(timed_out.value() == 0);
    REQUIRE(back.has_value());

    std::optional<PingPong::Client<state::Waiting>> polled;
    auto empty = std::move(*back).try_receive([&](Pong&&, auto&&) { return 1; },
                                              [&](milk::TimedOut, auto&& self) {
                                                  polled.emplace(std::move(self));
                                                  return 0;
                                              });
    REQUIRE(empty.ok());
    CHECK(empty.value() == 0);
    REQUIRE(polled.has_value());

    // The server answers; the same endpoint now receives the Pong.
    auto answered = std::move(server).receive(
        [&](Ping&& ping, auto&& next) { return std::move(next).send(Pong{ping.seq, Mode::fast, Point{}}).ok(); },
        [&](Bye&&) { return false; });
    REQUIRE(answered.ok());
    REQUIRE(answered.value());

    std::uint32_t seq = 0;
    auto got = std::move(*polled).try_receive(
        [&](Pong&& pong, auto&&) {
            seq = pong.seq;
            return 1;
        },
        [&](milk::TimedOut, auto&&) { return 0; });
    REQUIRE(got.ok());
    CHECK(got.value() == 1);
    CHECK(seq == 7);
}

TEST_CASE("pingpong: using a moved-from endpoint aborts and names the operation") {
    SUBCASE("send twice") {
        const milk::test::ChildOutcome outcome = milk::test::run_in_child([] {
            auto [client, server] = PingPong::open_inproc().value();
            auto first = std::move(client).send(Bye{});
            // NOLINTNEXTLINE(bugprone-use-after-move): the misuse under test
            auto second = std::move(client).send(Bye{});
            static_cast<void>(first.ok());
            static_cast<void>(second.ok());
        });
        CHECK(outcome.signal == SIGABRT);
        CHECK(outcome.stderr_text.find("milk: use of a moved-from endpoint: PingPong::Client<Idle>::send") !=
              std::string::npos);
    }
    SUBCASE("allocate after the endpoint moved on") {
        const milk::test::ChildOutcome outcome = milk::test::run_in_child([] {
            auto [client, server] = PingPong::open_inproc().value();
            auto moved = std::move(client);
            // NOLINTNEXTLINE(bugprone-use-after-move): the misuse under test
            static_cast<void>(client.allocate(8).ok());
        });
        CHECK(outcome.signal == SIGABRT);
        CHECK(outcome.stderr_text.find("milk: use of a moved-from endpoint: PingPong::Client<Idle>::allocate") !=
              std::string::npos);
    }
    SUBCASE("receive on an endpoint that already received") {
        const milk::test::ChildOutcome outcome = milk::test::run_in_child([] {
            auto [client, server] = PingPong::open_inproc().value();
            static_cast<void>(std::move(client).send(Bye{}).ok());
            static_cast<void>(std::move(server).receive([](Ping&&, auto&&) {}, [](Bye&&) {}).ok());
            // NOLINTNEXTLINE(bugprone-use-after-move): the misuse under test
            static_cast<void>(std::move(server).receive([](Ping&&, auto&&) {}, [](Bye&&) {}).ok());
        });
        CHECK(outcome.signal == SIGABRT);
        CHECK(outcome.stderr_text.find("milk: use of a moved-from endpoint: PingPong::Server<Idle>::receive") !=
              std::string::npos);
    }
}
