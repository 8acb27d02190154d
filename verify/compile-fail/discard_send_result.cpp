// expect: nodiscard
// Ignoring what a send returns: the next endpoint (or the error) is in it,
// and dropping it would close the channel unnoticed.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    std::move(client).send(pp::Bye{});
}
