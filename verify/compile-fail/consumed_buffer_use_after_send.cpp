// requires: clang
// flags: -Wconsumed -Werror=consumed
// expect: invalid invocation of method 'size' on object 'payload' while it is in the 'consumed' state
// Using a buffer after it went into a message (and so, after the send, to
// the peer) compiles in C++; the run-time abort catches it ("milk: use of a
// moved-from Buffer"), and clang's -Wconsumed catches it at compile time:
// milk::Buffer is MILK_CONSUMABLE and its move constructor leaves the source
// "consumed" (userland/include/milk/buffer.hpp).
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

std::size_t misuse(pp::Client<pp::state::Idle> client);
std::size_t misuse(pp::Client<pp::state::Idle> client) {
    milk::Buffer payload = client.allocate(64).value();
    auto waiting = std::move(client).send(pp::Ping{1, std::move(payload)});
    return waiting.ok() ? payload.size() : 0;
}
