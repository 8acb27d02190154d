// How the host talks to a `process` instance's runner (milk-runner): the
// command line it starts the runner with, and the records of the runner's
// control socket. Not installed.
//
//   milk-runner --instance NAME --component NAME [--setting NAME=VALUE]...
//               --control-fd N --counters-fd M
//
// The control socket is a SOCK_SEQPACKET socket pair inherited across exec.
// Host to runner, one RunnerRequest per packet:
//   Serve   with one descriptor (SCM_RIGHTS): a connected Unix socket to a
//           client. The runner creates a process channel, hands it over that
//           socket (milk::process::send_channel; the client calls
//           receive_channel) and serves it in a thread of its own. `channel`
//           is the host's name for a channel it may move (0: one it never
//           moves); `snapshot_bytes` of the component's snapshot follow in
//           packets of at most snapshot_chunk bytes, and the component is
//           restored from them (a move to this runner). No answer: the
//           client learns the outcome from the handshake.
//   Park    stop channel `channel`'s component at its next cut point, within
//           `timeout_ms`; answered by one RunnerReply (and the snapshot's
//           packets after it).
//   Retire  the parked channel closes (its component moved away).
//   Resume  the parked channel is served again, from its snapshot.
// When the host closes its end (it stops, or died), the runner exits.
//
// The counters page (instance_counters.hpp) is a memfd the host created; the
// runner counts its channels and messages there.
#pragma once

#include <cstddef>
#include <cstdint>

namespace milk::host::detail {

// "milkrunr", little-endian.
inline constexpr std::uint64_t runner_magic = 0x726e75726b6c696dULL;

enum class RunnerRequestKind : std::uint32_t { Serve = 1, Park = 2, Retire = 3, Resume = 4 };

struct RunnerRequest {
    std::uint64_t magic = runner_magic;
    std::uint32_t kind = static_cast<std::uint32_t>(RunnerRequestKind::Serve);
    std::uint32_t timeout_ms = 0;  // Park
    std::uint64_t channel = 0;
    std::uint64_t snapshot_bytes = 0;  // Serve
};
static_assert(sizeof(RunnerRequest) == 32);

// The answer to Park: `code` 0 and the snapshot's length, or the ErrorCode
// of why not (PeerClosed: the session had ended; TimedOut: no cut point in
// time, and the component serves on).
struct RunnerReply {
    std::uint64_t magic = runner_magic;
    std::uint32_t code = 0;
    std::uint32_t reserved = 0;
    std::uint64_t channel = 0;
    std::uint64_t snapshot_bytes = 0;
};
static_assert(sizeof(RunnerReply) == 32);

// A snapshot travels in packets of at most this many bytes.
inline constexpr std::size_t snapshot_chunk = 32 * 1024;

}  // namespace milk::host::detail
