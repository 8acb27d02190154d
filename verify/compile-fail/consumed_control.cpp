// requires: clang
// flags: -Wconsumed -Werror=consumed
// expect-success
// The control of the -Wconsumed fixtures: correct use that moves endpoints
// and buffers around, including in loops and by reassignment, must not be
// reported. (A typestate analysis that cried wolf on correct code would be
// switched off by users, and then it catches nothing.)
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

int loop(pp::Client<pp::state::Idle> client, int rounds);
int loop(pp::Client<pp::state::Idle> client, int rounds) {
    milk::Buffer payload = client.allocate(64).value();
    for (int i = 0; i < rounds; ++i) {
        payload.bytes()[0] = std::byte{1};
        auto waiting = std::move(client).send(pp::Ping{static_cast<std::uint32_t>(i), std::move(payload)});
        if (!waiting.ok()) return 1;
        auto idle = std::move(waiting).value().receive([](pp::Pong&&, pp::Client<pp::state::Idle>&& next) {
            return std::move(next);
        });
        if (!idle.ok()) return 1;
        // Reassignment makes both usable again.
        client = std::move(idle).value();
        payload = client.allocate(64).value();
    }
    milk::Result<void> done = std::move(client).send(pp::Bye{});
    return done.ok() && payload.size() == 64 ? 0 : 1;
}
