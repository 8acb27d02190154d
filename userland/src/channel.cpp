// The out-of-line part of milk::ChannelEnd.
#include "milk/channel.hpp"

#if !defined(MILK_FREESTANDING)
#include <cstdio>
#include <cstdlib>
#endif

namespace milk {

void ChannelEnd::die_moved_from(const char* operation) {
    // A moved-from endpoint is a bug in the caller, not a channel error, so it
    // aborts rather than returning a Result the caller might ignore. In a
    // freestanding build (milk.ko) die() means BUG.
#if defined(MILK_FREESTANDING)
    die("use of a moved-from endpoint", Error{ErrorCode::InvalidArgument, operation});
#else
    std::fprintf(stderr, "milk: use of a moved-from endpoint: %s\n", operation);
    std::fflush(stderr);
    std::abort();
#endif
}

}  // namespace milk
