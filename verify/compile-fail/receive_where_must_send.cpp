// expect: milk: PingPong::Client in state Idle must send, not receive
// Receiving in a state where this side must speak: nothing can arrive.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    auto received = std::move(client).receive([](pp::Pong&&, auto&&) {});
    static_cast<void>(received);
}
