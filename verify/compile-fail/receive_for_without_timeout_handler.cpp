// expect: milk: receive_for and try_receive need a handler taking \(milk::TimedOut, endpoint&&\)
// A receive with a deadline and no handler for the deadline: the endpoint
// would be lost when it passes.
#include "pingpong.hpp"

#include <chrono>

namespace pp = demo::ping::PingPong;

void misuse(pp::Client<pp::state::Waiting> waiting);
void misuse(pp::Client<pp::state::Waiting> waiting) {
    auto reply = std::move(waiting).receive_for(std::chrono::seconds(1), [](pp::Pong&&, auto&&) { return 1; });
    static_cast<void>(reply);
}
