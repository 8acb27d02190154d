// requires: clang
// flags: -Wconsumed -Werror=consumed
// expect: invalid invocation of method 'send' on .* while it is in the 'consumed' state
// Using an endpoint after it was consumed compiles in C++ (a moved-from
// object is still an object), so the run-time abort catches it; clang's
// -Wconsumed typestate analysis catches it at compile time.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

int misuse(pp::Client<pp::state::Idle> client);
int misuse(pp::Client<pp::state::Idle> client) {
    auto first = std::move(client).send(pp::Bye{});
    auto second = std::move(client).send(pp::Bye{});
    return first.ok() && second.ok() ? 0 : 1;
}
