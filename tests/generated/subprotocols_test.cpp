// Sub-protocols (contracts/subprotocols.contract): each call of `Auth` is a
// copy of its states in the generated code, and its `return` leads where the
// call says: to Ready after Login, to Root after Sudo.
#include "subprotocols.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <thread>
#include <type_traits>

namespace {

using namespace demo::subprotocols;
using namespace demo::subprotocols::Shell;

// The copies, as the endpoints' types name them.
static_assert(std::is_class_v<Client<state::Idle_Login_Ask>>);
static_assert(std::is_class_v<Server<state::Idle_Login_Answer>>);
static_assert(std::is_class_v<Client<state::Ready_Sudo_Ask>>);
static_assert(std::is_class_v<Client<state::Ready_Sudo_Answer_Response>>);

// A proof the server accepts: the nonce plus one.
constexpr std::uint64_t proof_of(std::uint64_t nonce) { return nonce + 1; }

// Challenges with `nonce`; true when the proof was right (the caller's
// continuation has been sent Welcome), false after Denied.
template <typename Ask, typename OnWelcome>
bool authenticate(Ask ask, std::uint64_t nonce, OnWelcome&& on_welcome) {
    auto answer = std::move(ask).send(Challenge{nonce}).value();
    bool welcomed = false;
    auto step = std::move(answer).receive([&](Response&& response, auto&& decide) {
        if (response.proof == proof_of(nonce)) {
            on_welcome(std::move(decide).send(Welcome{}).value());
            welcomed = true;
        } else {
            REQUIRE(std::move(decide).send(Denied{}).ok());
        }
    });
    REQUIRE(step.ok());
    return welcomed;
}

// Serves one session; the commands run as root, and whether login worked.
struct Served {
    bool logged_in = false;
    int root_commands = 0;
};

Served serve(Server<state::Idle> idle) {
    Served served;
    std::optional<Server<state::Ready>> ready;
    auto logged = std::move(idle).receive([&](Login&& login, Server<state::Idle_Login_Ask>&& ask) {
        served.logged_in = authenticate(std::move(ask), 100 + login.user,
                                        [&](Server<state::Ready>&& next) { ready.emplace(std::move(next)); });
    });
    REQUIRE(logged.ok());
    std::optional<Server<state::Root>> root;
    while (ready) {
        Server<state::Ready> current = std::move(*ready);
        ready.reset();
        auto step = std::move(current).receive(
            [&](Run&& run, Server<state::Ready_Run>&& output) {
                ready.emplace(std::move(output).send(Output{run.command}).value());
            },
            [&](Sudo&&, Server<state::Ready_Sudo_Ask>&& ask) {
                static_cast<void>(
                    authenticate(std::move(ask), 7, [&](Server<state::Root>&& next) { root.emplace(std::move(next)); }));
            },
            [&](Logout&&) {});
        REQUIRE(step.ok());
    }
    while (root) {
        Server<state::Root> current = std::move(*root);
        root.reset();
        auto step = std::move(current).receive(
            [&](Run&& run, Server<state::Root_Run>&& output) {
                ++served.root_commands;
                root.emplace(std::move(output).send(Output{run.command * 10}).value());
            },
            [&](Logout&&) {});
        REQUIRE(step.ok());
    }
    return served;
}

// The client's half of Auth, from the copy's first state: answers the
// challenge with `proof(nonce)`; the state after Welcome, or nullopt.
template <typename Next, typename Ask, typename Proof>
std::optional<Next> prove(Ask ask, Proof&& proof) {
    std::optional<Next> next;
    auto challenged = std::move(ask).receive([&](Challenge&& challenge, auto&& answer) {
        auto response = std::move(answer).send(Response{proof(challenge.nonce)}).value();
        auto decided = std::move(response).receive([&](Welcome&&, Next&& after) { next.emplace(std::move(after)); },
                                                   [&](Denied&&) {});
        REQUIRE(decided.ok());
    });
    REQUIRE(challenged.ok());
    return next;
}

}  // namespace

TEST_CASE("sub-protocols: Auth runs at login and before sudo, and returns where each call says") {
    auto [client, server] = open_inproc().value();
    Served served;
    std::thread serving([&, endpoint = std::move(server)]() mutable { served = serve(std::move(endpoint)); });

    auto ask = std::move(client).send(Login{5}).value();
    std::optional<Client<state::Ready>> ready = prove<Client<state::Ready>>(std::move(ask), proof_of);
    REQUIRE(ready.has_value());
    auto ran = std::move(*ready).send(Run{3}).value();
    std::optional<Client<state::Ready>> again;
    REQUIRE(std::move(ran)
                .receive([&](Output&& output, Client<state::Ready>&& next) {
                    CHECK(output.status == 3);
                    again.emplace(std::move(next));
                })
                .ok());
    auto sudo = std::move(*again).send(Sudo{}).value();
    std::optional<Client<state::Root>> root = prove<Client<state::Root>>(std::move(sudo), proof_of);
    REQUIRE(root.has_value());
    auto as_root = std::move(*root).send(Run{4}).value();
    std::optional<Client<state::Root>> still_root;
    REQUIRE(std::move(as_root)
                .receive([&](Output&& output, Client<state::Root>&& next) {
                    CHECK(output.status == 40);
                    still_root.emplace(std::move(next));
                })
                .ok());
    REQUIRE(std::move(*still_root).send(Logout{}).ok());
    serving.join();
    CHECK(served.logged_in);
    CHECK(served.root_commands == 1);
}

TEST_CASE("sub-protocols: a wrong proof is Denied, which ends the session from inside Auth") {
    auto [client, server] = open_inproc().value();
    Served served;
    std::thread serving([&, endpoint = std::move(server)]() mutable { served = serve(std::move(endpoint)); });
    auto ask = std::move(client).send(Login{5}).value();
    std::optional<Client<state::Ready>> ready =
        prove<Client<state::Ready>>(std::move(ask), [](std::uint64_t nonce) { return nonce; });
    CHECK_FALSE(ready.has_value());
    serving.join();
    CHECK_FALSE(served.logged_in);
}
