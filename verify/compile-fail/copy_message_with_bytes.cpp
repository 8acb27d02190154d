// expect: (use of deleted function|call to implicitly-deleted copy constructor).*Ping
// Copying a message that carries `bytes`: it owns its buffer, so it is
// move-only too (a message without bytes is a plain copyable value).
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Ping& ping);
void misuse(pp::Ping& ping) {
    pp::Ping copy = ping;
    static_cast<void>(copy);
}
