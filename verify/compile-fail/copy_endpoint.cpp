// expect: (use of deleted function|call to deleted constructor).*Client
// Copying an endpoint: two copies could both send, and the protocol state
// would fork. Endpoints are move-only.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Idle>& client);
void misuse(pp::Client<pp::state::Idle>& client) {
    pp::Client<pp::state::Idle> copy = client;
    static_cast<void>(copy);
}
