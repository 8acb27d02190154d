// examples/pingpong-process: the pingpong example with the server in a
// process of its own.
//
// The program starts a copy of itself (fork, then exec: the server shares
// no memory with the client but the channel) and hands it a channel over a
// Unix socket. From then on both sides use the very endpoints the in-process
// example uses: PingPong::client(end) and PingPong::server(end). Every
// payload travels as `bytes` in the channel's exchange heap, which is a
// memfd both processes map; the client checks every byte of every answer.
//
//   pingpong-process                 run the client; it starts the server
//   pingpong-process --serve <fd>    the server, on socket <fd> (internal)
#include "pingpong.hpp"  // generated from ../pingpong/pingpong.contract

#include <milk/process.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <span>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using ClientIdle = PingPong::Client<PingPong::state::Idle>;
using ServerIdle = PingPong::Server<PingPong::state::Idle>;
using ServerWaiting = PingPong::Server<PingPong::state::Waiting>;

constexpr std::uint32_t round_trips = 10'000;

// Payload `seq` holds payload_size(seq) bytes of pattern(seq, i).
std::size_t payload_size(std::uint32_t seq) { return 1 + (seq * 613u) % 4096u; }

std::byte pattern(std::uint32_t seq, std::size_t index) {
    return static_cast<std::byte>((seq * 131u + index * 7u) & 0xffu);
}

bool holds_reversed_pattern(std::span<const std::byte> bytes, std::uint32_t seq) {
    if (bytes.size() != payload_size(seq)) return false;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[bytes.size() - 1 - i] != pattern(seq, i)) return false;
    }
    return true;
}

void report(const char* who, const milk::Error& error) {
    std::fprintf(stderr, "pingpong-process: %s: %s%s%s\n", who, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
}

// ---------------------------------------------------------------------------
// The server process

// Answers every Ping with a Pong carrying the payload reversed, until Bye.
milk::Result<std::uint32_t> serve(ServerIdle server) {
    std::uint32_t answered = 0;
    for (;;) {
        using Request = std::optional<std::pair<PingPong::Ping, ServerWaiting>>;
        auto request = std::move(server).receive(
            [](PingPong::Ping&& ping, ServerWaiting&& waiting) {
                return Request{std::in_place, std::move(ping), std::move(waiting)};
            },
            [](PingPong::Bye&&) { return Request{}; });
        if (!request) return request.error();
        if (!request.value()) return answered;
        auto [ping, waiting] = std::move(*request.value());

        // The payload lies in the client's pool; the answer goes in one of
        // the server's own. Dropping `ping` gives the client its block back.
        auto reply = waiting.allocate(ping.payload.size());
        if (!reply) return reply.error();
        std::ranges::reverse_copy(ping.payload.bytes(), reply.value().data());

        auto idle = std::move(waiting).send(PingPong::Pong{ping.seq, std::move(reply).value()});
        if (!idle) return idle.error();
        server = std::move(idle).value();
        ++answered;
    }
}

int run_server(int socket) {
    // The other half of the client's send_channel(): the memfd arrives with
    // SCM_RIGHTS, is checked (header, size, seals) and mapped.
    auto end = milk::process::receive_channel(socket);
    ::close(socket);
    if (!end) {
        report("server: receiving the channel", end.error());
        return 1;
    }
    auto served = serve(PingPong::server(std::move(end).value()));
    if (!served) {
        report("server", served.error());
        return 1;
    }
    std::printf("pingpong-process: server (pid %d) answered %u pings\n", static_cast<int>(::getpid()),
                served.value());
    return served.value() == round_trips ? 0 : 1;
}

// ---------------------------------------------------------------------------
// The client process

struct ClientReport {
    std::uint64_t payload_bytes = 0;
    std::uint32_t mismatches = 0;
};

milk::Result<ClientReport> run_client(ClientIdle client) {
    ClientReport report;
    for (std::uint32_t seq = 0; seq < round_trips; ++seq) {
        auto payload = client.allocate(payload_size(seq));
        if (!payload) return payload.error();
        std::span<std::byte> bytes = payload.value().bytes();
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern(seq, i);

        auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
        if (!waiting) return waiting.error();
        auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, ClientIdle&& next) {
            if (pong.seq != seq || !holds_reversed_pattern(pong.payload.bytes(), seq)) ++report.mismatches;
            return std::move(next);
        });
        if (!idle) return idle.error();
        client = std::move(idle).value();
        report.payload_bytes += payload_size(seq);
    }
    auto bye = std::move(client).send(PingPong::Bye{});
    if (!bye) return bye.error();
    return report;
}

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
    auto end = milk::process::send_channel(sockets[0], std::move(pending).value());
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
    std::printf("pingpong-process: every answer checked, byte for byte\n");
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
