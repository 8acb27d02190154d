// How the host talks to a `process` instance's runner (milk-runner): the
// command line it starts the runner with, and the one record of the runner's
// control socket. Not installed.
//
//   milk-runner --instance NAME --component NAME [--setting NAME=VALUE]...
//               --control-fd N --counters-fd M
//
// The control socket is a SOCK_SEQPACKET socket pair inherited across exec.
// Each ServeRequest carries one descriptor (SCM_RIGHTS): a connected Unix
// socket to a client. The runner creates a process channel, hands it over
// that socket (milk::process::send_channel; the client calls
// receive_channel) and serves it in a thread of its own. There is no answer
// on the control socket: the client learns the outcome from the handshake.
// When the host closes its end (it stops, or died), the runner exits.
//
// The counters page (instance_counters.hpp) is a memfd the host created; the
// runner counts its channels and messages there.
#pragma once

#include <cstdint>

namespace milk::host::detail {

// "milkrunr", little-endian.
inline constexpr std::uint64_t runner_magic = 0x726e75726b6c696dULL;

enum class RunnerRequestKind : std::uint32_t { Serve = 1 };

struct RunnerRequest {
    std::uint64_t magic = runner_magic;
    std::uint32_t kind = static_cast<std::uint32_t>(RunnerRequestKind::Serve);
    std::uint32_t reserved = 0;
};
static_assert(sizeof(RunnerRequest) == 16);

}  // namespace milk::host::detail
