// describe() and die(): the two out-of-line pieces of result.hpp.
#include "milk/result.hpp"

#include <cstdio>
#include <cstdlib>

namespace milk {

const char* describe(ErrorCode code) {
    switch (code) {
    case ErrorCode::PeerClosed: return "peer closed";
    case ErrorCode::TimedOut: return "timed out";
    case ErrorCode::WouldBlock: return "would block";
    case ErrorCode::ProtocolViolation: return "protocol violation";
    case ErrorCode::BadBuffer: return "bad buffer";
    case ErrorCode::CorruptRing: return "corrupt ring";
    case ErrorCode::OutOfMemory: return "out of memory";
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::SystemError: return "system error";
    }
    // Codes are read back from shared memory too (a peer's close reason), so
    // an out-of-range value must still print something.
    return "unknown error";
}

void die(const char* context, const Error& error) {
    // stdio, not iostreams: this file is also built freestanding later, and
    // fprintf to an unbuffered stderr cannot interleave half-lines.
    if (error.what != nullptr) {
        std::fprintf(stderr, "milk: %s: %s: %s (detail %lld)\n", context, describe(error.code), error.what,
                     static_cast<long long>(error.detail));
    } else {
        std::fprintf(stderr, "milk: %s: %s (detail %lld)\n", context, describe(error.code),
                     static_cast<long long>(error.detail));
    }
    std::fflush(stderr);
    std::abort();
}

}  // namespace milk
