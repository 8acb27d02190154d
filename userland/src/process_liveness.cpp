// Watching the peer process through a pidfd: how a blocked end learns that
// a peer that could not close (SIGKILL) is gone.
//
// Why a pidfd polled between futex sleeps, and not something that wakes the
// sleeper by itself: a sleeping end waits on a futex word in the shared
// region, and Linux has no single call that waits for a futex and a file
// descriptor at once. Waking it at the peer's death would take either a
// thread per process watching every pidfd (hidden threads in a library, and
// threads do not survive fork), or eventfd doorbells instead of futexes
// (a system call more per wake-up for every message). Instead a waiter never
// sleeps longer than the liveness interval, and asks here when it wakes with
// no news. Messages never wait for this: the check runs only after a whole
// interval without one. docs/transports.md has the numbers.
#include "milk/region_transport.hpp"
#include "process_internal.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace milk::process::detail {
namespace {

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage, so C++
// cannot link against it; the system call is called directly.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    errno = ENOSYS;
    return -1;
#endif
}

class PidfdLiveness final : public PeerLiveness {
public:
    PidfdLiveness(FileDescriptor pidfd, std::chrono::nanoseconds interval)
        : m_pidfd(std::move(pidfd)), m_interval(interval) {}

    bool peer_gone() noexcept override {
        // A pidfd becomes readable when its process exits (for any reason,
        // SIGKILL included), whether or not anybody has reaped it yet.
        pollfd entry{m_pidfd.get(), POLLIN, 0};
        int ready = 0;
        do {
            ready = ::poll(&entry, 1, 0);
        } while (ready < 0 && errno == EINTR);
        return ready > 0;
    }

    std::chrono::nanoseconds interval() const noexcept override { return m_interval; }

private:
    FileDescriptor m_pidfd;
    std::chrono::nanoseconds m_interval;
};

}  // namespace

Result<std::unique_ptr<PeerLiveness>> watch_process(pid_t pid, std::chrono::nanoseconds interval) {
    if (pid <= 0) return Error{ErrorCode::InvalidArgument, "no peer process id", pid};
    FileDescriptor pidfd(open_pidfd(pid));
    if (!pidfd.valid()) {
        if (errno == ESRCH) return Error{ErrorCode::PeerClosed, "the peer process is already gone", pid};
        if (errno == ENOSYS)
            return Error{ErrorCode::SystemError, "pidfd_open is not available (the process transport needs Linux 5.3)",
                         errno};
        return Error{ErrorCode::SystemError, "pidfd_open of the peer process failed", errno};
    }
    return std::unique_ptr<PeerLiveness>(std::make_unique<PidfdLiveness>(std::move(pidfd), interval));
}

}  // namespace milk::process::detail
