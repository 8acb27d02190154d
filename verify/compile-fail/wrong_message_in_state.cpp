// expect: milk: PingPong::Client in state Idle may not send Pong
// Sending a message the state does not allow: Pong is the server's message,
// and the client in Idle may only send Ping or Bye.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    auto sent = std::move(client).send(pp::Pong{1, demo::ping::Mode::fast, demo::ping::Point{}});
    static_cast<void>(sent);
}
