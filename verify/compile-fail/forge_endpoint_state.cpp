// expect: private
// Making an endpoint in a state of one's choosing from a bare channel end.
// Only client() and server() make endpoints, and only in the initial state.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(milk::ChannelEnd&& end);
void misuse(milk::ChannelEnd&& end) {
    pp::Client<pp::state::Waiting> forged(std::move(end));
    static_cast<void>(forged);
}
