// Serving a channel that this process creates and hands to a client in
// another process over a Unix socket: what milkd does for an `inproc`
// instance and for its own control channel. Not installed.
#pragma once

#include "fd_passing.hpp"

#include <milk/channel.hpp>

#include <chrono>
#include <functional>

namespace milk::host::detail {

// In a new thread: creates a process channel, hands it over `socket`
// (milk::process::send_channel; the client calls receive_channel), closes
// the socket and runs `serve` on our end. Errors are the serving
// function's to report; a client that never attaches is given up on after
// `timeout`.
void serve_over_socket(FileDescriptor socket, std::function<Result<void>(ChannelEnd&&)> serve,
                       std::chrono::milliseconds timeout);

}  // namespace milk::host::detail
