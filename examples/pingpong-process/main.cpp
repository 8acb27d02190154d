// examples/pingpong-process: the pingpong example with the server in a
// process of its own.
//
// The program starts a copy of itself (fork, then exec: the server shares
// no memory with the client but the channel) and hands it a channel over a
// Unix socket. From then on both sides use the very endpoints the in-process
// example uses: PingPong::client(end) and PingPong::server(end). Every
// payload travels as `bytes` in the channel's exchange heap, which is a
// memfd both processes map: the server reverses it where it lies and hands
// the same buffer back, and the client checks every byte of every answer.
//
//   pingpong-process                 run the client; it starts the server
//   pingpong-process --serve <fd>    the server, on socket <fd> (internal)
#include "echo_component.hpp"               // the component, the same in every placement
#include "../pingpong/pingpong_client.hpp"  // the client, shared by every placement
#include "pingpong.hpp"                     // generated from contracts/pingpong.contract

#include <milk/process.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace {

// The client and the server are the in-process example's own
// (pingpong_client.hpp, components/echo): only the placement differs.
using namespace examples::pingpong;

void report(const char* who, const milk::Error& error) {
    std::fprintf(stderr, "pingpong-process: %s: %s%s%s\n", who, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
}

// ---------------------------------------------------------------------------
// The server process

int run_server(int socket) {
    // The other half of the client's send_channel(): the memfd arrives with
    // SCM_RIGHTS, is checked (header, size, seals) and mapped.
    auto end = milk::process::receive_channel(socket, milk::Deadline::after(std::chrono::seconds(10)));
    ::close(socket);
    if (!end) {
        report("server: receiving the channel", end.error());
        return 1;
    }
    auto echo = components::echo::Echo::try_create(milk::Settings{});
    if (!echo) {
        report("server: creating the echo", echo.error());
        return 1;
    }
    auto served = milk::serve_channel(echo.value(), PingPong::server(std::move(end).value()));
    if (!served) {
        report("server", served.error());
        return 1;
    }
    std::printf("pingpong-process: server (pid %d) answered %u pings\n", static_cast<int>(::getpid()),
                echo.value().answered());
    return echo.value().answered() == round_trips ? 0 : 1;
}

// ---------------------------------------------------------------------------
// The client process

// Starts this program again as the server, with `socket` open across exec.
pid_t start_server(const char* self, int socket) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    // The socket was made close-on-exec; this copy must survive the exec.
    if (::fcntl(socket, F_SETFD, 0) != 0) std::_Exit(127);
    const std::string fd = std::to_string(socket);
    ::execl(self, self, "--serve", fd.c_str(), static_cast<char*>(nullptr));
    std::perror("pingpong-process: exec");
    std::_Exit(127);
}

int run(const char* self) {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
        std::perror("pingpong-process: socketpair");
        return 1;
    }
    const pid_t server = start_server(self, sockets[1]);
    ::close(sockets[1]);
    if (server < 0) {
        std::perror("pingpong-process: fork");
        return 1;
    }

    // A channel in a fresh memfd, handed to the server over the socket. The
    // server's pid, for noticing its death, comes from the kernel with its
    // answer (SCM_CREDENTIALS), not from anything it writes.
    auto pending = milk::process::create_channel();
    if (!pending) {
        report("creating the channel", pending.error());
        return 1;
    }
    auto end = milk::process::send_channel(sockets[0], std::move(pending).value(),
                                           milk::Deadline::after(std::chrono::seconds(10)));
    ::close(sockets[0]);
    if (!end) {
        report("handing the channel to the server", end.error());
        ::kill(server, SIGKILL);
        ::waitpid(server, nullptr, 0);
        return 1;
    }
    std::printf("pingpong-process: client (pid %d), server (pid %d) started with exec\n", static_cast<int>(::getpid()),
                static_cast<int>(server));
    std::fflush(stdout);  // before the server's own output

    milk::Result<ClientReport> result = run_client(PingPong::client(std::move(end).value()));
    int status = 0;
    ::waitpid(server, &status, 0);
    if (!result) {
        report("client", result.error());
        return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::printf("pingpong-process: FAILED: the server process did not exit cleanly\n");
        return 1;
    }
    std::printf("pingpong-process: %u round trips, %llu payload bytes each way\n", round_trips,
                static_cast<unsigned long long>(result.value().payload_bytes));
    if (result.value().mismatches != 0) {
        std::printf("pingpong-process: FAILED: %u answers did not match their ping\n", result.value().mismatches);
        return 1;
    }
    if (result.value().same_memory != round_trips) {
        std::printf("pingpong-process: FAILED: %u answers were copied, not handed back\n",
                    round_trips - result.value().same_memory);
        return 1;
    }
    std::printf("pingpong-process: every answer checked, byte for byte; no payload was copied\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--serve") == 0) return run_server(std::atoi(argv[2]));
    if (argc != 1) {
        std::fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    // /proc/self/exe rather than argv[0]: the same binary whatever the
    // current directory or PATH.
    return run("/proc/self/exe");
}
