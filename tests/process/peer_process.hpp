// A real peer process for the process transport's tests.
//
// ChildProcess::start forks and runs a body in the child, which ends with
// _Exit(body's return value): no destructor of the parent's objects (whose
// copies the child has) runs there, and neither does anything of the test
// framework. The parent waits for it, or kills it; a ChildProcess that is
// dropped while its child still runs kills and reaps it, so a failing test
// never leaves a process behind or hangs on one.
#pragma once

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace milk::test {

// Child exit codes with a meaning of their own.
inline constexpr int child_ok = 0;
// The child gave up waiting for something the parent should have done.
inline constexpr int child_gave_up = 90;

class ChildProcess {
public:
    template <typename Body>
    [[nodiscard]] static ChildProcess start(Body&& body) {
        std::fflush(nullptr);  // nothing buffered may be written twice
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("fork");
            std::abort();
        }
        if (pid == 0) {
            // The test framework's crash handlers would report a crash of the
            // child as a crash of the parent's test run.
            std::signal(SIGABRT, SIG_DFL);
            std::signal(SIGSEGV, SIG_DFL);
            std::signal(SIGBUS, SIG_DFL);
            const int code = body();
            std::fflush(nullptr);
            std::_Exit(code);
        }
        return ChildProcess(pid);
    }

    ChildProcess(ChildProcess&& other) noexcept : m_pid(std::exchange(other.m_pid, -1)) {}
    ChildProcess& operator=(ChildProcess&&) = delete;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            static_cast<void>(wait());
        }
    }

    [[nodiscard]] pid_t pid() const { return m_pid; }

    // Waits for the child to end: its exit code, or 128 + the signal that
    // killed it.
    int wait() {
        int status = 0;
        pid_t reaped = 0;
        do {
            reaped = ::waitpid(m_pid, &status, 0);
        } while (reaped < 0 && errno == EINTR);
        m_pid = -1;
        if (reaped < 0) return -1;
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
    }

    void kill_now() const { ::kill(m_pid, SIGKILL); }

private:
    explicit ChildProcess(pid_t pid) : m_pid(pid) {}
    pid_t m_pid;
};

// Polls `condition` every 50 µs until it holds (true) or about 20 s went by
// (false). Only a fuse: a child that waits for the parent gives up rather
// than hang forever when the parent is broken; no test depends on timing.
template <typename Condition>
bool eventually(Condition&& condition) {
    for (long round = 0; round < 400'000; ++round) {
        if (condition()) return true;
        const timespec pause{0, 50'000};
        ::nanosleep(&pause, nullptr);
    }
    return condition();
}

}  // namespace milk::test
