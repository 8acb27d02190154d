// A placeholder for milkd's daemon loop, so that the command line links and
// fails clearly until the host runtime replaces this file.
#include <milk/host/daemon.hpp>

namespace milk::host {

Result<void> run_daemon(const Config&, const DaemonOptions&) {
    return Error{ErrorCode::InvalidArgument, "milkd: the daemon is not built yet", 0};
}

}  // namespace milk::host
