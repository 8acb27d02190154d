// Hanging up (contracts/closes.contract, `close;`): in a state that says
// `close;`, the side that speaks may close the channel instead of sending,
// and the other side's receive calls its milk::HungUp handler: the
// session's end, not an error. A state with `close;` alone has only close().
#include "closes.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <thread>
#include <type_traits>

namespace {

using namespace demo::closes;
using namespace demo::closes::Service;

// What the server saw, in order.
struct ServerLog {
    int requests = 0;
    bool hung_up = false;       // the client hung up in Ready
    bool finished = false;      // the conversation reached Finished
};

// Answers Request n with Reply n, except: n == 99 gets Done (then Finished,
// where the server hangs up), n == 7 gets no answer at all (the server
// hangs up in Busy).
ServerLog serve(Server<state::Ready> ready) {
    ServerLog log;
    std::optional<Server<state::Ready>> next{std::move(ready)};
    while (next) {
        Server<state::Ready> current = std::move(*next);
        next.reset();
        auto step = std::move(current).receive(
            [&](Request&& request, Server<state::Busy>&& busy) {
                ++log.requests;
                if (request.n == 7) {
                    REQUIRE(std::move(busy).close().ok());
                } else if (request.n == 99) {
                    Server<state::Finished> finished = std::move(busy).send(Done{}).value();
                    log.finished = true;
                    REQUIRE(std::move(finished).close().ok());
                } else {
                    next.emplace(std::move(busy).send(Reply{request.n}).value());
                }
            },
            [&](milk::HungUp) { log.hung_up = true; });
        REQUIRE(step.ok());
    }
    return log;
}

// Sends `n`; the reply, or nullopt when the server hung up or finished.
enum class Answer { Reply, HungUp, Done };

}  // namespace

TEST_CASE("close: a client hangs up where the contract lets it, and the server's receive says so") {
    auto [client, server] = open_inproc().value();
    ServerLog log;
    std::thread serving([&, endpoint = std::move(server)]() mutable { log = serve(std::move(endpoint)); });
    // In an optional, as the endpoint changes hands each round (and clang's
    // -Wconsumed follows that through the loop).
    std::optional<Client<state::Ready>> ready{std::move(client)};
    for (std::uint32_t n = 1; n <= 3; ++n) {
        Client<state::Busy> busy = std::move(*ready).send(Request{n}).value();
        ready.reset();
        std::optional<Client<state::Ready>> again;
        auto got = std::move(busy).receive(
            [&](Reply&& reply, Client<state::Ready>&& next) {
                CHECK(reply.n == n);
                again.emplace(std::move(next));
            },
            [&](Done&&, Client<state::Finished>&& finished) { static_cast<void>(std::move(finished).close()); },
            [&](milk::HungUp) { FAIL("the server hung up"); });
        REQUIRE(got.ok());
        REQUIRE(again.has_value());
        ready = std::move(again);
    }
    REQUIRE(std::move(*ready).close().ok());
    serving.join();
    CHECK(log.requests == 3);
    CHECK(log.hung_up);
    CHECK_FALSE(log.finished);
}

TEST_CASE("close: the server hangs up instead of answering, and the client's receive says so") {
    auto [client, server] = open_inproc().value();
    ServerLog log;
    std::thread serving([&, endpoint = std::move(server)]() mutable { log = serve(std::move(endpoint)); });
    Client<state::Busy> busy = std::move(client).send(Request{7}).value();
    Answer answer = Answer::Reply;
    auto got = std::move(busy).receive([&](Reply&&, Client<state::Ready>&& next) { static_cast<void>(std::move(next).close()); },
                                       [&](Done&&, Client<state::Finished>&& finished) {
                                           answer = Answer::Done;
                                           static_cast<void>(std::move(finished).close());
                                       },
                                       [&](milk::HungUp) { answer = Answer::HungUp; });
    REQUIRE(got.ok());
    serving.join();
    CHECK(answer == Answer::HungUp);
    CHECK(log.requests == 1);
}

TEST_CASE("close: a finished conversation has nothing more to say, both sides close") {
    auto [client, server] = open_inproc().value();
    ServerLog log;
    std::thread serving([&, endpoint = std::move(server)]() mutable { log = serve(std::move(endpoint)); });
    Client<state::Busy> busy = std::move(client).send(Request{99}).value();
    std::optional<Client<state::Finished>> finished;
    auto got = std::move(busy).receive([&](Reply&&, Client<state::Ready>&& next) { static_cast<void>(std::move(next).close()); },
                                       [&](Done&&, Client<state::Finished>&& next) { finished.emplace(std::move(next)); },
                                       [&](milk::HungUp) { FAIL("the server hung up before Done"); });
    REQUIRE(got.ok());
    REQUIRE(finished.has_value());
    CHECK(std::move(*finished).close().ok());
    serving.join();
    CHECK(log.finished);
}

// A state without `close;` has no close(), and a closed channel there is an
// error, as before (pingpong_test and violation_test show that side).
template <typename Endpoint>
concept can_close = requires(Endpoint endpoint) { std::move(endpoint).close(); };
static_assert(can_close<Client<state::Ready>>);
static_assert(can_close<Server<state::Busy>>);
static_assert(can_close<Client<state::Finished>> && can_close<Server<state::Finished>>);
static_assert(!can_close<Client<state::Busy>>, "in Busy only the server may hang up");
static_assert(!can_close<Server<state::Ready>>, "in Ready only the client may hang up");
