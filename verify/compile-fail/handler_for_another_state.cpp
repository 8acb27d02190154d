// expect: milk: Files::Client in state Opening: a handler takes no message of this state
// A handler that no message of the state can reach: Data arrives in Reading,
// never in Opening. Such a handler is written for another state.
#include "files.hpp"

namespace fs = demo::files::Files;

void misuse(fs::Client<fs::state::Opening> opening);
void misuse(fs::Client<fs::state::Opening> opening) {
    auto reply = std::move(opening).receive([](fs::Opened&&, auto&&) { return 1; }, [](fs::Failed&&) { return 2; },
                                            [](fs::Data&&, auto&&) { return 3; });
    static_cast<void>(reply);
}
