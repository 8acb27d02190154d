// expect: void
// Sending after `end`: the send of Bye returns milk::Result<void>. There is no
// endpoint after the end of the session, so there is nothing to send on.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    auto ended = std::move(client).send(pp::Bye{});
    auto again = std::move(ended).value().send(pp::Bye{});
    static_cast<void>(again);
}
