// expect-success
// The control: correct use of every operation the other files misuse. It
// must compile, warning-free, so that the harness itself is shown to tell a
// compiling file from a failing one.
#include "files.hpp"
#include "pingpong.hpp"

#include <chrono>
#include <cstdlib>

namespace pp = demo::ping::PingPong;
namespace fs = demo::files::Files;

int use_pingpong(pp::Client<pp::state::Idle> client);
int use_pingpong(pp::Client<pp::state::Idle> client) {
    milk::Buffer payload = client.allocate(16).value();
    auto waiting = std::move(client).send(pp::Ping{1, std::move(payload)});
    if (!waiting.ok()) return 1;
    auto idle = std::move(waiting).value().receive_for(
        std::chrono::milliseconds(1), [](pp::Pong&&, pp::Client<pp::state::Idle>&& next) { return std::move(next); },
        [](milk::TimedOut, pp::Client<pp::state::Waiting>&&) -> pp::Client<pp::state::Idle> { std::abort(); });
    if (!idle.ok()) return 1;
    milk::Result<void> done = std::move(idle).value().send(pp::Bye{});
    return done.ok() ? 0 : 1;
}

int use_files(fs::Client<fs::state::Reading> reading);
int use_files(fs::Client<fs::state::Reading> reading) {
    auto reply = std::move(reading).receive([](fs::Data&&, auto&&) { return 1; }, [](fs::Eof&&, auto&&) { return 2; },
                                            [](fs::Failed&&, auto&&) { return 3; });
    return reply.ok() ? reply.value() : 0;
}
