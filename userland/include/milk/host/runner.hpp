// The runner: the program a `process` instance runs in (milk-runner). The
// host spawns it with the instance's component and settings on its command
// line; it serves each channel the host asks for in a thread of its own,
// with a component object built for that channel (ComponentType::serve).
// The command line and the control socket's records are the host's
// business (userland/host/runner_protocol.hpp).
#pragma once

#include <milk/host/component_type.hpp>

#include <span>

namespace milk::host {

// milk-runner's main: `components` are the components compiled into the
// runner (compiled_components() in milk-runner itself; a test passes its
// own). Returns the exit status: 0 when the host closed the control
// socket, 2 for a bad command line, 1 for any other failure to start.
[[nodiscard]] int run_runner(int argc, char** argv, std::span<const ComponentType> components);

}  // namespace milk::host
