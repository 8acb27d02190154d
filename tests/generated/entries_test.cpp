// Entry states (contracts/entries.contract): a channel opened in an entry
// state runs the conversation from there, and only the initial and entry
// states can start one (the rest is a compile-time error, see
// verify/compile-fail/start_in_ordinary_state.cpp).
#include "entries.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <thread>

namespace {

using namespace demo::entries;
using namespace demo::entries::Transfer;

static_assert(is_start<state::Start> && is_start<state::Streaming> && is_start<state::Resume>);
static_assert(!is_start<state::Waiting>);

// Acks every Data with its number until Done; the sum of the numbers.
std::uint32_t serve(Server<state::Streaming> streaming) {
    std::uint32_t sum = 0;
    std::optional<Server<state::Streaming>> next{std::move(streaming)};
    while (next) {
        Server<state::Streaming> current = std::move(*next);
        next.reset();
        auto step = std::move(current).receive(
            [&](Data&& data, Server<state::Waiting>&& waiting) {
                sum += data.n;
                next.emplace(std::move(waiting).send(Ack{data.n}).value());
            },
            [&](Done&&) {});
        REQUIRE(step.ok());
    }
    return sum;
}

Client<state::Streaming> send_and_ack(Client<state::Streaming> streaming, std::uint32_t n) {
    Client<state::Waiting> waiting = std::move(streaming).send(Data{n}).value();
    std::optional<Client<state::Streaming>> next;
    REQUIRE(std::move(waiting)
                .receive([&](Ack&& ack, Client<state::Streaming>&& after) {
                    CHECK(ack.n == n);
                    next.emplace(std::move(after));
                })
                .ok());
    return std::move(*next);
}

}  // namespace

TEST_CASE("entry states: a channel opened in Streaming skips Hello and streams at once") {
    auto [client, server] = open_inproc_at<state::Streaming>().value();
    std::uint32_t sum = 0;
    std::thread serving([&, endpoint = std::move(server)]() mutable { sum = serve(std::move(endpoint)); });
    std::optional<Client<state::Streaming>> streaming{std::move(client)};
    for (std::uint32_t n = 1; n <= 4; ++n) {
        Client<state::Streaming> current = std::move(*streaming);
        streaming.reset();
        streaming.emplace(send_and_ack(std::move(current), n));
    }
    REQUIRE(std::move(*streaming).send(Done{}).ok());
    serving.join();
    CHECK(sum == 10);
}

TEST_CASE("entry states: a channel opened in Resume starts with the Ack that is owed") {
    auto [client, server] = open_inproc_at<state::Resume>().value();
    std::uint32_t sum = 0;
    std::thread serving([&, endpoint = std::move(server)]() mutable {
        auto streaming = std::move(endpoint).send(Ack{41}).value();
        sum = serve(std::move(streaming));
    });
    std::optional<Client<state::Streaming>> streaming;
    REQUIRE(std::move(client)
                .receive([&](Ack&& ack, Client<state::Streaming>&& next) {
                    CHECK(ack.n == 41);
                    streaming.emplace(std::move(next));
                })
                .ok());
    Client<state::Streaming> next = send_and_ack(std::move(*streaming), 2);
    REQUIRE(std::move(next).send(Done{}).ok());
    serving.join();
    CHECK(sum == 2);
}

TEST_CASE("entry states: the initial state still starts a conversation with Hello") {
    auto [client, server] = open_inproc().value();
    std::uint32_t sum = 0;
    std::thread serving([&, endpoint = std::move(server)]() mutable {
        std::optional<Server<state::Streaming>> streaming;
        REQUIRE(std::move(endpoint)
                    .receive([&](Hello&&, Server<state::Streaming>&& next) { streaming.emplace(std::move(next)); })
                    .ok());
        sum = serve(std::move(*streaming));
    });
    Client<state::Streaming> streaming = std::move(client).send(Hello{}).value();
    streaming = send_and_ack(std::move(streaming), 7);
    REQUIRE(std::move(streaming).send(Done{}).ok());
    serving.join();
    CHECK(sum == 7);
}
