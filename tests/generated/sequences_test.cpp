// Sequences (contracts/sequences.contract): the states a sequence implies
// are states of the generated code like any other, named <State>_<Message>,
// and a conversation written as a sequence runs as written.
#include "sequences.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

namespace {

using namespace demo::sequences;
using namespace demo::sequences::Store;

// The implied states, as the endpoints' types name them.
static_assert(std::is_class_v<Client<state::Closed_Open>>);
static_assert(std::is_class_v<Server<state::Ready_Append>>);
static_assert(std::is_class_v<Client<state::Ready_Close>>);

template <typename End>
milk::Buffer text_buffer(End& end, std::string_view text) {
    milk::Buffer buffer = end.allocate(text.size()).value();
    std::memcpy(buffer.data(), text.data(), text.size());
    return buffer;
}

// Opens "log" (anything else: not_found), appends until 8 bytes are there
// (then: full), and answers Close with Closed. The appends it took.
int serve(Server<state::Closed> closed) {
    std::optional<Server<state::Closed>> waiting{std::move(closed)};
    std::optional<Server<state::Ready>> ready;
    while (!ready) {
        if (!waiting) return 0;
        Server<state::Closed> current = std::move(*waiting);
        waiting.reset();
        auto opened = std::move(current).receive([&](Open&& open, Server<state::Closed_Open>&& answer) {
            const std::string path(reinterpret_cast<const char*>(open.path.data()), open.path.size());
            if (path == "log") ready.emplace(std::move(answer).send(Opened{0}).value());
            else waiting.emplace(std::move(answer).send(Failed{StoreError::not_found}).value());
        });
        REQUIRE(opened.ok());
    }
    std::uint64_t size = 0;
    int appends = 0;
    for (;;) {
        bool closing = false;
        auto step = std::move(*ready).receive(
            [&](Append&& append, Server<state::Ready_Append>&& answer) {
                ++appends;
                if (size + append.data.size() > 8) {
                    ready.emplace(std::move(answer).send(Failed{StoreError::full}).value());
                    return;
                }
                size += append.data.size();
                ready.emplace(std::move(answer).send(Appended{size}).value());
            },
            [&](Close&&, Server<state::Ready_Close>&& answer) {
                closing = true;
                CHECK(std::move(answer).send(Closed{}).ok());
            });
        REQUIRE(step.ok());
        if (closing) return appends;
    }
}

}  // namespace

TEST_CASE("sequences: a conversation written as a sequence runs as written, through its implied states") {
    auto [client, server] = Store::open_inproc().value();
    int appends = 0;
    std::thread server_thread([&, endpoint = std::move(server)]() mutable { appends = serve(std::move(endpoint)); });

    // Closed --Open--> Closed_Open --Failed--> Closed, then --Opened--> Ready.
    std::optional<Client<state::Closed>> closed{std::move(client)};
    StoreError error{};
    milk::Buffer nothing = text_buffer(*closed, "nothing");
    auto missing = std::move(*closed).send(Open{std::move(nothing)});
    closed.reset();
    REQUIRE(missing.ok());
    auto refused = std::move(missing).value().receive(
        [&](Opened&&, Client<state::Ready>&&) { FAIL("opened what is not there"); },
        [&](Failed&& failed, Client<state::Closed>&& next) {
            error = failed.error;
            closed.emplace(std::move(next));
        });
    REQUIRE(refused.ok());
    CHECK(error == StoreError::not_found);
    REQUIRE(closed);

    std::optional<Client<state::Ready>> ready;
    milk::Buffer log = text_buffer(*closed, "log");
    auto opening = std::move(*closed).send(Open{std::move(log)});
    closed.reset();
    REQUIRE(opening.ok());
    auto opened = std::move(opening).value().receive(
        [&](Opened&& message, Client<state::Ready>&& next) {
            CHECK(message.size == 0);
            ready.emplace(std::move(next));
        },
        [&](Failed&&, Client<state::Closed>&&) { FAIL("the log did not open"); });
    REQUIRE(opened.ok());
    REQUIRE(ready);

    // Ready --Append--> Ready_Append --Appended or Failed--> Ready.
    std::uint64_t size = 0;
    bool full = false;
    for (std::string_view text : {"abc", "defg", "hi"}) {
        milk::Buffer data = text_buffer(*ready, text);
        auto appending = std::move(*ready).send(Append{std::move(data)});
        ready.reset();
        REQUIRE(appending.ok());
        auto answered = std::move(appending).value().receive(
            [&](Appended&& message, Client<state::Ready>&& next) {
                size = message.size;
                ready.emplace(std::move(next));
            },
            [&](Failed&& failed, Client<state::Ready>&& next) {
                full = failed.error == StoreError::full;
                ready.emplace(std::move(next));
            });
        REQUIRE(answered.ok());
    }
    CHECK(size == 7);
    CHECK(full);

    // Ready --Close--> Ready_Close --Closed--> end.
    auto closing = std::move(*ready).send(Close{});
    ready.reset();
    REQUIRE(closing.ok());
    bool done = false;
    auto ended = std::move(closing).value().receive([&](Closed&&) { done = true; });
    REQUIRE(ended.ok());
    CHECK(done);
    server_thread.join();
    CHECK(appends == 3);
}
