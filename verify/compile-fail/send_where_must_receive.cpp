// expect: milk: PingPong::Client in state Waiting must receive, not send
// Sending in a state where this side must listen: the client waits for the
// server's Pong and may not speak before it came.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Waiting> client);
void misuse(pp::Client<pp::state::Waiting> client) {
    auto sent = std::move(client).send(pp::Bye{});
    static_cast<void>(sent);
}
