// The host's side of a `process` instance: the runner process it spawned,
// watched through a pidfd and reaped by a thread of its own. Not installed.
#pragma once

#include "fd_passing.hpp"
#include "runner_protocol.hpp"

#include <milk/host/config.hpp>
#include <milk/host/host.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <thread>

namespace milk::host::detail {

class RunnerProcess {
public:
    // fork+exec of `runner_path` for `instance`, with the counters memfd
    // `counters_fd` (runner_protocol.hpp).
    // `on_death` (if any) is called on the watcher thread once the process
    // is gone and fate() says how: the host's supervisor hears of it so.
    [[nodiscard]] static Result<std::unique_ptr<RunnerProcess>> try_spawn(const std::string& runner_path,
                                                                          const InstanceConfig& instance,
                                                                          int counters_fd,
                                                                          std::chrono::milliseconds stop_timeout,
                                                                          std::function<void()> on_death = {});
    RunnerProcess(const RunnerProcess&) = delete;
    RunnerProcess& operator=(const RunnerProcess&) = delete;
    // Closes the control socket (the runner exits), SIGKILL after the stop
    // timeout, and reaps.
    ~RunnerProcess();

    // Gives the runner `socket`, a connected Unix socket of a client, to
    // hand a new channel over. `channel` names a channel the host may move
    // (0: never moved); its component starts from `snapshot` when that is
    // not empty. PeerClosed when the runner is dead.
    [[nodiscard]] Result<void> request_channel(int socket, std::uint64_t channel = 0,
                                               std::span<const std::byte> snapshot = {});

    // A move's steps for a channel served here (channel_seat.hpp): park it
    // at a cut point and get its snapshot (PeerClosed: its session ended;
    // TimedOut: no cut point in time), then retire or resume it.
    [[nodiscard]] Result<std::vector<std::byte>> park(std::uint64_t channel, std::chrono::milliseconds timeout);
    [[nodiscard]] Result<void> retire(std::uint64_t channel);
    [[nodiscard]] Result<void> resume(std::uint64_t channel);

    [[nodiscard]] pid_t pid() const { return m_pid; }

    struct Fate {
        InstanceState state = InstanceState::Running;
        int code = 0;
    };
    [[nodiscard]] Fate fate() const;

    // Waits until the process is gone (for tests that kill it), up to
    // `timeout`; true when it is.
    [[nodiscard]] bool wait_gone(std::chrono::milliseconds timeout) const;

private:
    // Retire or Resume: one record, no answer.
    [[nodiscard]] Result<void> decide(RunnerRequestKind kind, std::uint64_t channel);
    RunnerProcess(pid_t pid, FileDescriptor pidfd, FileDescriptor control, std::chrono::milliseconds stop_timeout,
                  std::function<void()> on_death);
    void watch();

    pid_t m_pid;
    FileDescriptor m_pidfd;
    FileDescriptor m_control;
    std::chrono::milliseconds m_stop_timeout;
    std::function<void()> m_on_death;
    // Writes to the control socket from several client threads.
    std::mutex m_control_lock;

    mutable std::mutex m_lock;
    mutable std::condition_variable m_gone;
    Fate m_fate;
    std::thread m_watcher;
};

// Where milk-runner is: `configured`, or next to this program's executable.
[[nodiscard]] std::string runner_path(const std::string& configured);

}  // namespace milk::host::detail
