// What the process transport's source files share; not installed.
#pragma once

#include "milk/process.hpp"
#include "milk/region_transport.hpp"

#include <chrono>
#include <fcntl.h>
#include <memory>
#include <sys/types.h>
#include <utility>

namespace milk::process::detail {

// The seals the attaching side adds once it has mapped the region, so that
// from then on nobody can map the memfd writable again and nobody can punch
// a hole in it (fallocate(FALLOC_FL_PUNCH_HOLE) and madvise(MADV_REMOVE) on a
// sealed shmem file fail with EPERM): the two mappings that exist stay the
// only writers, and no peer can zero the other's buffers. F_SEAL_SEAL keeps
// anybody from changing that later. The creator checks that they are there
// before it trusts the peer (docs/transports.md, "Seals").
inline constexpr int peer_seals = F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;

// An owned file descriptor: closed when dropped.
class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : m_fd(fd) {}
    FileDescriptor(FileDescriptor&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept {
        if (this != &other) {
            reset();
            m_fd = std::exchange(other.m_fd, -1);
        }
        return *this;
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() { reset(); }

    [[nodiscard]] int get() const { return m_fd; }
    // Hands the descriptor to an owner outside this file's reach (the
    // public PendingChannel keeps a plain int).
    [[nodiscard]] int take() && { return std::exchange(m_fd, -1); }
    [[nodiscard]] bool valid() const { return m_fd >= 0; }
    void reset() noexcept;

private:
    int m_fd = -1;
};

// A liveness watcher for process `pid` (pidfd_open). PeerClosed when the
// process is already gone, SystemError when pidfds are not supported
// (Linux < 5.3) or the call fails otherwise.
[[nodiscard]] Result<std::unique_ptr<PeerLiveness>> watch_process(pid_t pid, std::chrono::nanoseconds interval);

// Checks the memfd `fd` (regular file, sealed, header consistent with the
// file's size) and attaches to it as side Second. ProtocolViolation, with a
// `what` naming the problem, for anything the creator got wrong.
[[nodiscard]] Result<std::unique_ptr<RegionTransport>> attach_region(int fd, const AttachOptions& options);

// InvalidArgument unless `interval` is positive and `spin_budget` is not negative.
[[nodiscard]] Result<void> check_wait_options(std::chrono::nanoseconds spin_budget,
                                              std::chrono::nanoseconds interval);

}  // namespace milk::process::detail
