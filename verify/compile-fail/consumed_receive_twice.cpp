// requires: clang
// flags: -Wconsumed -Werror=consumed
// expect: invalid invocation of method 'receive' on .* while it is in the 'consumed' state
// Receiving twice on one endpoint: the first receive consumed it (the next
// state's endpoint went to the handler). -Wconsumed reports it at compile
// time.
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

int misuse(pp::Server<pp::state::Idle> server);
int misuse(pp::Server<pp::state::Idle> server) {
    auto first = std::move(server).receive([](pp::Ping&&, auto&&) { return 1; }, [](pp::Bye&&) { return 2; });
    auto second = std::move(server).receive([](pp::Ping&&, auto&&) { return 1; }, [](pp::Bye&&) { return 2; });
    return first.ok() && second.ok() ? 0 : 1;
}
