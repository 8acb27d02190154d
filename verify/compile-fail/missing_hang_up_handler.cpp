// expect: milk: Service::Server in state Ready must handle the peer hanging up \(close;\): a handler taking milk::HungUp
// A state that says `close;` lets the client hang up instead of sending; the
// server's receive there must say what it does then, and this one forgot.
#include "closes.hpp"

namespace svc = demo::closes::Service;

void misuse(svc::Server<svc::state::Ready> ready);
void misuse(svc::Server<svc::state::Ready> ready) {
    auto request = std::move(ready).receive([](svc::Request&&, auto&&) { return 1; });
    static_cast<void>(request);
}
