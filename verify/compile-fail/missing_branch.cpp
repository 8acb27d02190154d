// expect: milk: Files::Client in state Reading must handle message Eof
// A branching receive with a branch left out: a read may be answered with
// Data, Eof or Failed, and this caller forgot Eof.
#include "files.hpp"

namespace fs = demo::files::Files;

void misuse(fs::Client<fs::state::Reading> reading);
void misuse(fs::Client<fs::state::Reading> reading) {
    auto reply = std::move(reading).receive([](fs::Data&&, auto&&) { return 1; },
                                            [](fs::Failed&&, auto&&) { return 3; });
    static_cast<void>(reply);
}
