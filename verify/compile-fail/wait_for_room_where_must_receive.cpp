// expect: milk: PingPong::Client in state Waiting must receive, not send
// The deadline of a send where this side may not send: the client waits for
// the server's Pong, so there is no send whose room it could wait for.
#include "pingpong.hpp"

#include <chrono>

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Waiting>& client);
void misuse(pp::Client<pp::state::Waiting>& client) {
    auto room = client.wait_for_room(std::chrono::milliseconds(1));
    static_cast<void>(room);
}
