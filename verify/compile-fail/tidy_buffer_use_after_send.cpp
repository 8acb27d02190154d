// tool: clang-tidy
// expect: 'payload' used after it was moved \[bugprone-use-after-move
// Reading a buffer after it was sent: clang-tidy's bugprone-use-after-move
// reports it (as -Wconsumed does in consumed_buffer_use_after_send.cpp, and
// the run-time abort in tests/userland/abort_test.cpp).
#include "pingpong.hpp"

namespace pp = demo::ping::PingPong;

std::size_t misuse(pp::Client<pp::state::Idle> client);
std::size_t misuse(pp::Client<pp::state::Idle> client) {
    milk::Buffer payload = client.allocate(64).value();
    auto waiting = std::move(client).send(pp::Ping{1, std::move(payload)});
    return waiting.ok() ? payload.size() : 0;
}
