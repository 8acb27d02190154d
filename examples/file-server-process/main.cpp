// examples/file-server-process: the file-server example with the server in
// a process of its own, and what a client sees when that process is killed.
//
// The program starts a copy of itself as the server (fork, then exec: the
// two share nothing but the channel's memfd) and hands it the channel over a
// Unix socket. The client then runs the same scripted session as the
// in-process example, with the same generated endpoints. Last, it starts a
// second server, kills it with SIGKILL (a process that is killed cannot say
// goodbye), and shows that its next request ends in PeerClosed instead of
// waiting forever.
//
//   file-server-process                 run the client; it starts the servers
//   file-server-process --serve <fd>    a server, on socket <fd> (internal)
#include "../file-server/file_client.hpp"  // the client's session, shared by every placement
#include "files.hpp"                       // generated from contracts/files.contract
#include "files_component.hpp"             // the component, the same in every placement

#include <milk/process.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace {

// The client's scripted session and the server's answers are the in-process
// example's own (file_client.hpp, components/files): only the placement differs.
using namespace examples::files;

// ---------------------------------------------------------------------------
// The processes

void report(const char* who, const milk::Error& error) {
    std::fprintf(stderr, "file-server-process: %s: %s%s%s\n", who, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
}

int run_server(int socket) {
    auto end = milk::process::receive_channel(socket, milk::Deadline::after(std::chrono::seconds(10)));
    ::close(socket);
    if (!end) {
        report("server: receiving the channel", end.error());
        return 1;
    }
    auto files = components::files::Files::try_create(milk::Settings{});
    if (!files) {
        report("server: creating the component", files.error());
        return 1;
    }
    auto served = milk::serve_channel(files.value(), FileService::server(std::move(end).value()));
    if (!served) {
        report("server", served.error());
        return 1;
    }
    return 0;
}

// A server process started from this very binary, and the client's end of
// the channel to it.
struct ServerProcess {
    pid_t pid = -1;
    std::optional<ClientReady> client;
};

std::optional<ServerProcess> start_server(const char* self) {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
        std::perror("file-server-process: socketpair");
        return std::nullopt;
    }
    ServerProcess server;
    server.pid = ::fork();
    if (server.pid == 0) {
        // The socket was made close-on-exec; this copy must survive the exec.
        if (::fcntl(sockets[1], F_SETFD, 0) != 0) std::_Exit(127);
        const std::string fd = std::to_string(sockets[1]);
        ::execl(self, self, "--serve", fd.c_str(), static_cast<char*>(nullptr));
        std::perror("file-server-process: exec");
        std::_Exit(127);
    }
    ::close(sockets[1]);
    if (server.pid < 0) {
        std::perror("file-server-process: fork");
        ::close(sockets[0]);
        return std::nullopt;
    }
    auto pending = milk::process::create_channel();
    if (!pending) {
        report("creating the channel", pending.error());
        ::close(sockets[0]);
        return std::nullopt;
    }
    auto end = milk::process::send_channel(sockets[0], std::move(pending).value(),
                                           milk::Deadline::after(std::chrono::seconds(10)));
    ::close(sockets[0]);
    if (!end) {
        report("handing the channel to the server", end.error());
        ::kill(server.pid, SIGKILL);
        ::waitpid(server.pid, nullptr, 0);
        return std::nullopt;
    }
    server.client.emplace(FileService::client(std::move(end).value()));
    return server;
}

bool exited_cleanly(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A server that dies in the middle of a session: the client's next request
// must end in PeerClosed (the pidfd of the server process says it is gone),
// not hang.
bool run_killed_server(const char* self) {
    auto server = start_server(self);
    if (!server) return false;
    auto opened = open_file(std::move(*server->client), "/motd");
    if (!opened) {
        report("killed-server demo: open", opened.error());
        return false;
    }
    std::printf("%-36s -> %s\n", "open \"/motd\"", opened.value().text.c_str());

    ::kill(server->pid, SIGKILL);
    int status = 0;
    ::waitpid(server->pid, &status, 0);
    std::printf("%-36s    (server pid %d killed with SIGKILL)\n", "", static_cast<int>(server->pid));

    auto read = read_file(std::move(opened.value().client), 1, 0, 64);
    if (read) {
        std::printf("%-36s -> %s   << a dead server cannot answer\n", "read handle 1, from 0, 64 bytes",
                    read.value().text.c_str());
        return false;
    }
    std::printf("%-36s -> error: %s (%s)\n", "read handle 1, from 0, 64 bytes", milk::describe(read.error().code),
                read.error().what != nullptr ? read.error().what : "");
    return read.error().code == milk::ErrorCode::PeerClosed && WIFSIGNALED(status);
}

int run(const char* self) {
    auto server = start_server(self);
    if (!server) return 1;
    std::printf("file-server-process: client (pid %d), server (pid %d) started with exec\n",
                static_cast<int>(::getpid()), static_cast<int>(server->pid));
    std::fflush(stdout);  // before the server's own output
    const bool session_ok = run_session(std::move(*server->client));
    const bool server_ok = exited_cleanly(server->pid);
    if (!session_ok || !server_ok) {
        std::printf("file-server-process: FAILED%s\n", server_ok ? "" : " (the server did not exit cleanly)");
        return 1;
    }

    std::printf("\na second server, killed in the middle of its session:\n");
    if (!run_killed_server(self)) {
        std::printf("file-server-process: FAILED: a killed server must read as PeerClosed\n");
        return 1;
    }
    std::printf("file-server-process: every reply as expected\n");
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
