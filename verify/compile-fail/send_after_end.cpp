// expect: milk: the session has ended: after a send to `end` there is no endpoint to send on
// Sending after `end`: the send of Bye returns a milk::session::EndResult,
// whose value() is a NoEndpoint. There is no endpoint after the end of the
// session, so there is nothing to send on, and milk says so in its own words
// (before, g++ said "invalid use of 'void'" and clang "member reference base
// type 'void'").
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    auto ended = std::move(client).send(pp::Bye{});
    auto again = std::move(ended).value().send(pp::Bye{});
    static_cast<void>(again);
}
