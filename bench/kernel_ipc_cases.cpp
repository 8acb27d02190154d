// The kernel's IPC baselines: pipe, eventfd and Unix socket (socketpair,
// SOCK_STREAM), each between the two pinned threads, blocking, with default
// buffer sizes (what a program gets without tuning).
//
// pipe and socket carry the same 64-byte slots as the ring-based rows; an
// eventfd carries an 8-byte counter, which is all it can carry.
#include "cases.hpp"
#include "slot_protocol.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace milk::bench {
namespace {

void write_all(int fd, const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::byte*>(data);
    while (size > 0) {
        const ssize_t done = ::write(fd, bytes, size);
        if (done < 0) {
            if (errno == EINTR) continue;
            fatal_errno("write");
        }
        bytes += done;
        size -= static_cast<std::size_t>(done);
    }
}

// False at end of file before the first byte; a partial message at end of
// file is an error.
[[nodiscard]] bool read_exact(int fd, void* data, std::size_t size) {
    auto* bytes = static_cast<std::byte*>(data);
    std::size_t got = 0;
    while (got < size) {
        const ssize_t done = ::read(fd, bytes + got, size - got);
        if (done < 0) {
            if (errno == EINTR) continue;
            fatal_errno("read");
        }
        if (done == 0) {
            if (got == 0) return false;
            fatal("read: end of file in the middle of a message");
        }
        got += static_cast<std::size_t>(done);
    }
    return true;
}

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            m_fd = other.m_fd;
            other.m_fd = -1;
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    [[nodiscard]] int get() const { return m_fd; }
    void reset() {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = -1;
    }

private:
    int m_fd = -1;
};

// Two one-way byte channels between client and server: two pipes, or the
// two directions of one socketpair.
struct FdLink {
    Fd client_out, client_in;  // the client writes requests, reads answers
    Fd server_in, server_out;
    // Ends the server: it sees end of file on its input. A socket's two
    // descriptors per side (see make_socketpair) share one socket, so closing
    // one is not enough: shutdown() ends the direction (and fails harmlessly
    // with ENOTSOCK on a pipe).
    void hang_up() {
        static_cast<void>(::shutdown(client_out.get(), SHUT_WR));
        client_out.reset();
    }
};

FdLink make_pipes() {
    int requests[2];
    int answers[2];
    if (::pipe2(requests, O_CLOEXEC) != 0 || ::pipe2(answers, O_CLOEXEC) != 0) fatal_errno("pipe2");
    FdLink link;
    link.client_out = Fd(requests[1]);
    link.server_in = Fd(requests[0]);
    link.server_out = Fd(answers[1]);
    link.client_in = Fd(answers[0]);
    return link;
}

// A socketpair has one descriptor per side for both directions; dup() gives
// each side a second one, so that FdLink's shape fits.
FdLink make_socketpair() {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) fatal_errno("socketpair");
    FdLink link;
    link.client_out = Fd(sockets[0]);
    link.client_in = Fd(::dup(sockets[0]));
    link.server_in = Fd(sockets[1]);
    link.server_out = Fd(::dup(sockets[1]));
    if (link.client_in.get() < 0 || link.server_out.get() < 0) fatal_errno("dup");
    return link;
}

void serve_slots(int in, int out, const char* where) {
    SlotServer server;
    Slot slot;
    while (read_exact(in, &slot, sizeof slot)) {
        Slot reply;
        switch (server.handle(slot, reply, where)) {
        case SlotServer::Action::Reply: write_all(out, &reply, sizeof reply); break;
        case SlotServer::Action::Nothing: break;
        case SlotServer::Action::Stop: return;
        }
    }
}

Slot read_slot(int fd, const char* where) {
    Slot slot;
    if (!read_exact(fd, &slot, sizeof slot)) fatal(std::string(where) + ": the server hung up");
    return slot;
}

LatencyRow run_slot_link(const CaseContext& context, FdLink& link, LatencyRow row) {
    const char* where = row.id.c_str();
    {
        PinnedThread server(context.cpus.server_cpu,
                            [&link, where] { serve_slots(link.server_in.get(), link.server_out.get(), where); });
        const int out = link.client_out.get();
        const int in = link.client_in.get();
        row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
            const Slot ping = make_slot(SlotTag::Ping, seq);
            write_all(out, &ping, sizeof ping);
            expect_slot(read_slot(in, where), SlotTag::Pong, seq, where);
        });
        std::uint64_t item = 0;
        row.stream = measure_stream(context.stream, context.clock, [&](std::size_t max, std::uint64_t budget) {
            const std::uint64_t start = TickClock::now();
            std::size_t sent = 0;
            while (sent < max) {
                // One write per message, as a program sending messages
                // one at a time does (the ring rows publish one at a time too).
                const Slot slot = make_slot(SlotTag::Item, ++item);
                write_all(out, &slot, sizeof slot);
                if (++sent % 256 == 0 && over_budget(start, budget)) break;
            }
            const Slot finish = make_slot(SlotTag::Finish, 0);
            write_all(out, &finish, sizeof finish);
            expect_slot(read_slot(in, where), SlotTag::Finished, sent, where);
            return sent;
        });
        const Slot stop = make_slot(SlotTag::Stop, 0);
        write_all(out, &stop, sizeof stop);
    }
    return row;
}

// `bytes` over a byte stream: see payload.hpp for what is written and read.
void serve_bytes(int in, int out, std::size_t size, Touch touch, const char* where) {
    std::vector<std::byte> buffer(size, std::byte{1});
    while (read_exact(in, buffer.data(), size)) {
        if (!check_payload(buffer, read_word(buffer, 0), touch)) fatal(std::string(where) + ": payload corrupted");
        write_all(out, buffer.data(), size);
    }
}

BytesRow run_bytes_link(const CaseContext& context, FdLink& link, BytesRow row) {
    const char* where = row.id.c_str();
    const std::size_t size = row.size;
    const Touch touch = row.touch;
    {
        PinnedThread server(context.cpus.server_cpu, [&link, size, touch, where] {
            serve_bytes(link.server_in.get(), link.server_out.get(), size, touch, where);
        });
        std::vector<std::byte> buffer(size, std::byte{1});
        const int out = link.client_out.get();
        const int in = link.client_in.get();
        row.samples = measure_round_trips(context.bytes, context.clock, [&](std::uint64_t seq) {
            write_payload(buffer, seq, touch);
            write_all(out, buffer.data(), size);
            if (!read_exact(in, buffer.data(), size)) fatal(std::string(where) + ": the server hung up");
            if (!check_answer(buffer, seq)) fatal(std::string(where) + ": wrong answer");
        });
        link.hang_up();
    }
    return row;
}

}  // namespace

LatencyRow run_pipe(const CaseContext& context) {
    FdLink link = make_pipes();
    LatencyRow row;
    row.id = "pipe";
    row.label = "pipe (64 B), blocking";
    row.measured = true;
    return run_slot_link(context, link, std::move(row));
}

LatencyRow run_unix_socket(const CaseContext& context) {
    FdLink link = make_socketpair();
    LatencyRow row;
    row.id = "unix_socket";
    row.label = "Unix socket (64 B), blocking";
    row.measured = true;
    return run_slot_link(context, link, std::move(row));
}

LatencyRow run_eventfd(const CaseContext& context, Placement placement) {
    LatencyRow row;
    row.id = placement == Placement::Threads ? "eventfd" : "eventfd_process";
    row.label = placement == Placement::Threads ? "eventfd (8 B counter), blocking"
                                                : "eventfd, between processes, blocking";
    row.measured = true;
    row.note = "an eventfd adds up its writes, so it cannot stream distinct messages";
    Fd requests(::eventfd(0, EFD_CLOEXEC));
    Fd answers(::eventfd(0, EFD_CLOEXEC));
    if (requests.get() < 0 || answers.get() < 0) fatal_errno("eventfd");
    // The counter carries the sequence number itself (the counter is zero
    // before each write in a strict ping-pong), so the server echoes it and
    // the client checks it; the largest value an eventfd takes means stop.
    constexpr std::uint64_t stop_value = 0xfffffffffffffffeull;
    const auto serve = [&] {
        for (;;) {
            std::uint64_t value = 0;
            if (!read_exact(requests.get(), &value, sizeof value)) fatal("eventfd: end of file");
            if (value == stop_value) return;
            write_all(answers.get(), &value, sizeof value);
        }
    };
    const auto client = [&] {
        row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
            write_all(requests.get(), &seq, sizeof seq);
            std::uint64_t value = 0;
            if (!read_exact(answers.get(), &value, sizeof value)) fatal("eventfd: end of file");
            if (value != seq) fatal("eventfd: wrong answer");
        });
        write_all(requests.get(), &stop_value, sizeof stop_value);
    };
    if (placement == Placement::Threads) {
        PinnedThread server(context.cpus.server_cpu, serve);
        client();
    } else {
        // The same loops, the server in a child process (the eventfds are
        // inherited): the baseline for milk's process transport.
        std::fflush(stdout);
        std::fflush(stderr);
        const pid_t child = ::fork();
        if (child < 0) fatal_errno("fork");
        if (child == 0) {
            pin_current_thread(context.cpus.server_cpu);
            serve();
            std::_Exit(EXIT_SUCCESS);
        }
        client();
        int status = 0;
        if (::waitpid(child, &status, 0) != child) fatal_errno("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fatal("eventfd: the server process failed");
    }
    return row;
}

BytesRow run_pipe_bytes(const CaseContext& context, std::size_t size, Touch touch) {
    FdLink link = make_pipes();
    BytesRow row;
    row.id = "pipe";
    row.label = "pipe";
    row.size = size;
    row.touch = touch;
    row.measured = true;
    return run_bytes_link(context, link, std::move(row));
}

BytesRow run_unix_socket_bytes(const CaseContext& context, std::size_t size, Touch touch) {
    FdLink link = make_socketpair();
    BytesRow row;
    row.id = "unix_socket";
    row.label = "Unix socket";
    row.size = size;
    row.touch = touch;
    row.measured = true;
    return run_bytes_link(context, link, std::move(row));
}

}  // namespace milk::bench
