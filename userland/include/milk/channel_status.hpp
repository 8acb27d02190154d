// The close protocol of a channel: each side's SideStatus in the control
// block (region_layout.hpp), written by that side, read by the other.
//
// Written once, for user space's transports and milk.ko alike. A side closes
// by storing its reason (0 for a normal close, else the ErrorCode that made
// it close) and a detail, then the `closed` flag with release; the peer reads
// the flag with acquire, so everything sent before the close is visible to it
// first. The words are shared memory: the peer may have written anything
// there, so what it wrote is never taken for a status of our own (a peer that
// "closed with TimedOut" must not make our receives report timeouts forever):
// peer_close_error() turns it into a close, whatever it says.
#pragma once

#include "region_layout.hpp"
#include "result.hpp"

#include <atomic>
#include <cstdint>

namespace milk {

// Publishes our close. `reason` null: a normal close.
inline void publish_close(SideStatus& ours, const Error* reason) {
    std::atomic_ref<std::uint32_t>(ours.reason)
        .store(reason != nullptr ? static_cast<std::uint32_t>(reason->code) : 0, std::memory_order_relaxed);
    std::atomic_ref<std::int64_t>(ours.detail).store(reason != nullptr ? reason->detail : 0, std::memory_order_relaxed);
    std::atomic_ref<std::uint32_t>(ours.closed).store(1, std::memory_order_release);
}

// Whether the side that owns `theirs` has closed (acquire: what it sent
// before closing is visible after this returns true).
[[nodiscard]] inline bool has_closed(const SideStatus& theirs) {
    // atomic_ref needs a non-const object; the load does not write.
    auto& words = const_cast<SideStatus&>(theirs);
    return std::atomic_ref<std::uint32_t>(words.closed).load(std::memory_order_acquire) != 0;
}

// What a close the peer published means to us; call after has_closed().
//   * reason 0: PeerClosed.
//   * a violation the peer says it found in what we sent (ProtocolViolation,
//     BadBuffer, CorruptRing): that code, so a test or a log can tell why.
//   * any other ErrorCode (the peer's own trouble: its allocation failed, its
//     own receive timed out): PeerClosed, with the peer's code as the
//     detail. TimedOut and WouldBlock are statuses of a call, never of a
//     channel: passed on, they would make every later receive of ours look
//     like "nothing yet" to a caller that loops on them.
//   * a number that is no ErrorCode: PeerClosed, with the number as the
//     detail.
// Whatever the peer wrote, the result is a close: never TimedOut or
// WouldBlock.
// The `detail` of a close with reason PeerClosed that says "moved": the
// component went to another placement and its client's end is to follow it
// ("milkmove", little-endian). A peer can claim it falsely; a client that
// then finds no successor reports the close as usual.
inline constexpr std::int64_t moved_close_detail = 0x65766f6d6b6c696dLL;

// The `detail` of the PeerClosed a transport reports when the peer's
// process is gone without closing ("milkgone", little-endian): a client of
// an instance that restarts waits for the successor then.
inline constexpr std::int64_t peer_gone_detail = 0x656e6f676b6c696dLL;

[[nodiscard]] inline Error peer_close_error(const SideStatus& theirs) {
    auto& words = const_cast<SideStatus&>(theirs);
    // Read once each, after the caller's acquire load of `closed`.
    const auto reason = std::atomic_ref<std::uint32_t>(words.reason).load(std::memory_order_relaxed);
    const auto detail = std::atomic_ref<std::int64_t>(words.detail).load(std::memory_order_relaxed);
    if (reason == 0) return Error{ErrorCode::PeerClosed, "the peer closed the channel", 0};
    // ErrorCode is 8 bits wide: a larger number must not alias one.
    if (reason > 0xff) return Error{ErrorCode::PeerClosed, "the peer closed the channel with an unknown reason", reason};
    switch (static_cast<ErrorCode>(reason)) {
        case ErrorCode::ProtocolViolation:
        case ErrorCode::BadBuffer:
        case ErrorCode::CorruptRing:
            return Error{static_cast<ErrorCode>(reason), "the peer closed the channel because of this error", detail};
        case ErrorCode::PeerClosed:
            // A component that moved (the host's relocation) closes its old
            // channel so: its client's end looks for the successor.
            if (detail == moved_close_detail)
                return Error{ErrorCode::PeerClosed, "the peer moved to another placement", detail};
            [[fallthrough]];
        case ErrorCode::TimedOut:
        case ErrorCode::WouldBlock:
        case ErrorCode::OutOfMemory:
        case ErrorCode::InvalidArgument:
        case ErrorCode::SystemError:
            return Error{ErrorCode::PeerClosed, "the peer closed the channel after an error of its own (detail: its code)",
                         reason};
    }
    return Error{ErrorCode::PeerClosed, "the peer closed the channel with an unknown reason", reason};
}

}  // namespace milk
