// expect: milk: PingPong::Client in state Idle: not a message of contract PingPong
// Sending a message of another contract on this one.
#include "files.hpp"
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;
namespace fs = demo::files::Files;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    auto sent = std::move(client).send(fs::Close{});
    static_cast<void>(sent);
}
