// expect: close
// Only the side that speaks in a state may hang up there (`close;`): in
// Busy the server speaks, so the client's endpoint has no close().
#include "closes.hpp"

namespace svc = demo::closes::Service;

void misuse(svc::Client<svc::state::Busy> busy);
void misuse(svc::Client<svc::state::Busy> busy) {
    auto closed = std::move(busy).close();
    static_cast<void>(closed);
}
