// expect: milk: a Transfer channel starts in its initial state or in an entry state
// Waiting is no entry state: a conversation cannot start there (the client
// would wait for an Ack nobody owes it).
#include "entries.hpp"

namespace tr = demo::entries::Transfer;

void misuse();
void misuse() {
    auto endpoints = tr::open_inproc_at<tr::state::Waiting>();
    static_cast<void>(endpoints);
}
