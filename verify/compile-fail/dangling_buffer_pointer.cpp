// requires: clang
// flags: -Werror=dangling
// expect: will be destroyed at the end of the full-expression
// A raw pointer into a buffer that dies at the end of its statement (a
// temporary buffer, or one inside a temporary Result or message), written
// through later, after a send. milk::Buffer::data() and bytes() (and
// Result::value()) are MILK_LIFETIMEBOUND, so clang's -Wdangling sees that
// the pointer outlives the buffer (userland/include/milk/lifetimebound.hpp).
// A pointer taken from a named buffer before it is moved into a message is
// seen by no compiler or analyzer: docs/verification.md, "Raw pointers into
// buffers".
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle> client);
void misuse(pp::Client<pp::state::Idle> client) {
    std::byte* kept = client.allocate(64).value().data();
    auto waiting = std::move(client).send(pp::Ping{1, client.allocate(64).value()});
    if (waiting.ok()) kept[0] = std::byte{1};
}
