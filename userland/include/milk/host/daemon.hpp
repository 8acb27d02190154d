// milkd's daemon: runs the instances of a checked config and serves the
// clients of other processes, which connect by instance name through a Unix
// socket (docs/components.md, "The host").
#pragma once

#include <milk/host/config.hpp>
#include <milk/result.hpp>

#include <string>

namespace milk::host {

struct DaemonOptions {
    // The Unix socket clients connect through; empty for the default.
    std::string socket_path;
};

// Starts every instance of `config` where it says, serves clients until the
// daemon is told to stop, then stops the instances. `config` comes from
// load_config, so everything it names has been checked.
[[nodiscard]] Result<void> run_daemon(const Config& config, const DaemonOptions& options);

}  // namespace milk::host
