// expect: milk: every handler of a receive must return the same type
// Handlers of one receive returning different types: the receive returns one
// Result<R>, so R must be the same whichever message came.
#include "files.hpp"

#include <string>

namespace fs = demo::files::Files;

void misuse(fs::Client<fs::state::Writing> writing);
void misuse(fs::Client<fs::state::Writing> writing) {
    auto reply = std::move(writing).receive([](fs::Written&&, auto&&) { return 1; },
                                            [](fs::Failed&&, auto&&) { return std::string("failed"); });
    static_cast<void>(reply);
}
