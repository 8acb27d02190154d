// tool: clang-tidy
// expect: 'client' used after it was moved \[bugprone-use-after-move
// Sending twice on one endpoint: the first send consumed it. clang-tidy's
// bugprone-use-after-move reports it (as -Wconsumed does in
// consumed_use_after_send.cpp, and the run-time abort in
// tests/generated/pingpong_test.cpp).
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

bool misuse(pp::Client<pp::state::Idle> client);
bool misuse(pp::Client<pp::state::Idle> client) {
    auto first = std::move(client).send(pp::Bye{});
    auto second = std::move(client).send(pp::Bye{});
    return first.ok() && second.ok();
}
