// Runs a piece of a test in a child process, for behaviour that ends the
// process (an abort on misuse), and reports how the child ended and what it
// wrote to stderr.
#pragma once

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace milk::test {

struct ChildOutcome {
    // The signal that ended the child, or 0 when it exited.
    int signal = 0;
    // The exit status when it exited.
    int exit_status = 0;
    std::string stderr_text;
};

// Forks; the child runs `body` with stderr going into a pipe and exits 0 if
// body returns. The parent collects stderr until the child is gone.
template <typename Body>
ChildOutcome run_in_child(Body&& body) {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    std::fflush(nullptr);  // nothing buffered may be written twice
    const pid_t pid = ::fork();
    if (pid < 0) std::abort();
    if (pid == 0) {
        // The test framework's crash handlers would report the expected
        // abort as a crash of the child's copy of the test run.
        std::signal(SIGABRT, SIG_DFL);
        std::signal(SIGSEGV, SIG_DFL);
        ::close(fds[0]);
        ::dup2(fds[1], STDERR_FILENO);
        ::close(fds[1]);
        body();
        std::_Exit(0);
    }
    ::close(fds[1]);
    ChildOutcome outcome;
    char buffer[512];
    for (;;) {
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n <= 0) break;
        outcome.stderr_text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
    if (WIFEXITED(status)) outcome.exit_status = WEXITSTATUS(status);
    return outcome;
}

}  // namespace milk::test
