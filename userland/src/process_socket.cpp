// Handing a process channel over a Unix socket: the memfd goes with
// SCM_RIGHTS, and each side learns the other's pid from SCM_CREDENTIALS,
// which the kernel checks (a process may only claim its own pid, unless it
// has CAP_SYS_ADMIN), so the pid is not merely something the peer wrote.
//
//   creator                                   attacher
//   Offer  + memfd + credentials  ------->    checks and maps the memfd,
//                                             opens a pidfd of the creator
//          <-------  Accept + credentials     (or Refuse + error code)
//   opens a pidfd of the attacher
//
// Each message is a fixed 16-byte record; anything else ends the handshake.
#include "milk/process.hpp"

#include "milk/region_transport.hpp"
#include "process_internal.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace milk::process {
namespace {

using detail::FileDescriptor;

using Kind = HandshakeKind;

struct Received {
    HandshakeMessage message;
    FileDescriptor fd;  // the one descriptor passed with it, if any
    pid_t pid = 0;      // from SCM_CREDENTIALS; 0 when none came
};

Result<void> enable_credentials(int socket) {
    const int on = 1;
    if (::setsockopt(socket, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
        return Error{ErrorCode::InvalidArgument, "SO_PASSCRED failed: the channel needs a Unix socket", errno};
    return {};
}

// Sends `message` with our credentials and, when fd >= 0, that descriptor.
Result<void> send_message(int socket, const HandshakeMessage& message, int fd) {
    HandshakeMessage copy = message;
    iovec data{&copy, sizeof copy};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = CMSG_SPACE(sizeof(ucred)) + (fd >= 0 ? CMSG_SPACE(sizeof(int)) : 0);

    cmsghdr* entry = CMSG_FIRSTHDR(&header);
    entry->cmsg_level = SOL_SOCKET;
    entry->cmsg_type = SCM_CREDENTIALS;
    entry->cmsg_len = CMSG_LEN(sizeof(ucred));
    const ucred ours{::getpid(), ::getuid(), ::getgid()};
    std::memcpy(CMSG_DATA(entry), &ours, sizeof ours);
    if (fd >= 0) {
        entry = CMSG_NXTHDR(&header, entry);
        entry->cmsg_level = SOL_SOCKET;
        entry->cmsg_type = SCM_RIGHTS;
        entry->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(entry), &fd, sizeof fd);
    }
    for (;;) {
        // MSG_NOSIGNAL: a peer that hung up is an error, not a SIGPIPE.
        const ssize_t sent = ::sendmsg(socket, &header, MSG_NOSIGNAL);
        if (sent == static_cast<ssize_t>(sizeof copy)) return {};
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && (errno == EPIPE || errno == ECONNRESET))
            return Error{ErrorCode::PeerClosed, "the peer hung up during the channel handshake", errno};
        if (sent < 0) return Error{ErrorCode::SystemError, "sendmsg of the channel handshake failed", errno};
        return Error{ErrorCode::SystemError, "the channel handshake was sent in part", sent};
    }
}

// Waits until the socket is readable or the deadline passes.
Result<void> wait_readable(int socket, const Deadline& deadline) {
    for (;;) {
        int timeout_ms = -1;
        if (!deadline.is_never()) {
            const auto left = deadline.at() - Deadline::Clock::now();
            if (left <= Deadline::Clock::duration::zero())
                return Error{ErrorCode::TimedOut, "no channel handshake before the deadline", 0};
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
            timeout_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
        }
        pollfd entry{socket, POLLIN, 0};
        const int ready = ::poll(&entry, 1, timeout_ms);
        if (ready > 0) return {};
        if (ready < 0 && errno != EINTR) return Error{ErrorCode::SystemError, "poll on the channel socket failed", errno};
    }
}

// Receives one handshake message. Every descriptor that comes with it is
// owned (closed unless kept) at once, so a peer cannot make us leak any;
// more than one, or a truncated control message, is a violation.
Result<Received> receive_message(int socket, const Deadline& deadline) {
    MILK_TRY(wait_readable(socket, deadline));
    Received received;
    iovec data{&received.message, sizeof received.message};
    // Room for a few descriptors, so that extra ones arrive (and are closed)
    // rather than making the kernel truncate silently.
    constexpr std::size_t max_fds = 8;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(max_fds * sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t got = 0;
    do {
        got = ::recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    // A Unix stream socket reports ECONNRESET, not end of file, when the
    // peer closed it with our handshake still unread: it hung up all the same.
    if (got < 0 && errno == ECONNRESET)
        return Error{ErrorCode::PeerClosed, "the peer hung up during the channel handshake", errno};
    if (got < 0) return Error{ErrorCode::SystemError, "recvmsg of the channel handshake failed", errno};

    std::size_t fd_count = 0;
    for (cmsghdr* entry = CMSG_FIRSTHDR(&header); entry != nullptr; entry = CMSG_NXTHDR(&header, entry)) {
        if (entry->cmsg_level != SOL_SOCKET) continue;
        if (entry->cmsg_type == SCM_RIGHTS) {
            const std::size_t count = (entry->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int fd = -1;
                std::memcpy(&fd, CMSG_DATA(entry) + i * sizeof(int), sizeof fd);
                FileDescriptor owned(fd);
                if (fd_count++ == 0) received.fd = std::move(owned);
            }
        } else if (entry->cmsg_type == SCM_CREDENTIALS && entry->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
            ucred credentials{};
            std::memcpy(&credentials, CMSG_DATA(entry), sizeof credentials);
            received.pid = credentials.pid;
        }
    }
    if (got == 0) return Error{ErrorCode::PeerClosed, "the peer hung up during the channel handshake", 0};
    if ((header.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0 || fd_count > 1)
        return Error{ErrorCode::ProtocolViolation, "channel handshake with extra data or descriptors",
                     static_cast<std::int64_t>(fd_count)};
    if (got != static_cast<ssize_t>(sizeof received.message) || received.message.magic != handshake_magic)
        return Error{ErrorCode::ProtocolViolation, "channel handshake message is not milk's", got};
    return received;
}

}  // namespace

Result<ChannelEnd> send_channel(int socket, PendingChannel&& channel, Deadline deadline) {
    // Taken at once: whatever happens, the caller's PendingChannel is used up.
    PendingChannel pending = std::move(channel);
    pending.require_valid("send_channel");
    // Before the offer goes out, so the peer's answer carries credentials
    // the kernel filled in even if the peer sends none.
    MILK_TRY(enable_credentials(socket));
    MILK_TRY(send_message(socket, HandshakeMessage{handshake_magic, static_cast<std::uint32_t>(Kind::Offer), 0},
                          pending.m_fd));
    auto answer = receive_message(socket, deadline);
    if (!answer.ok()) return answer.error();
    const HandshakeMessage& message = answer.value().message;
    if (message.kind == static_cast<std::uint32_t>(Kind::Refuse))
        return Error{ErrorCode::PeerClosed, "the peer refused the channel (detail: its error code)", message.code};
    if (message.kind != static_cast<std::uint32_t>(Kind::Accept) || answer.value().fd.valid())
        return Error{ErrorCode::ProtocolViolation, "the peer answered the channel offer with something else",
                     message.kind};
    if (answer.value().pid <= 0)
        return Error{ErrorCode::ProtocolViolation, "the peer's answer carried no credentials", answer.value().pid};
    // The peer mapped the region before it accepted, and sealed it then
    // (process.cpp, attach_region): nobody can punch a hole in it now.
    const int seals = ::fcntl(pending.m_fd, F_GET_SEALS);
    if (seals < 0 || (seals & detail::peer_seals) != detail::peer_seals)
        return Error{ErrorCode::ProtocolViolation,
                     "the peer attached without sealing the channel against hole punching (F_SEAL_FUTURE_WRITE)", seals};
    return std::move(pending).bind(answer.value().pid);
}

Result<ChannelEnd> receive_channel(int socket, Deadline deadline, const AttachOptions& options) {
    MILK_TRY(detail::check_wait_options(options.spin_budget, options.liveness_interval));
    MILK_TRY(enable_credentials(socket));
    // Tells the creator why we say no: its send_channel waits for an answer.
    auto refuse = [socket](const Error& error) {
        static_cast<void>(send_message(
            socket, HandshakeMessage{handshake_magic, static_cast<std::uint32_t>(Kind::Refuse),
                                     static_cast<std::uint32_t>(error.code)},
            -1));
        return error;
    };
    auto offer = receive_message(socket, deadline);
    if (!offer.ok()) {
        // A hang-up or a deadline has nobody (or nothing yet) to answer.
        if (offer.error().code == ErrorCode::ProtocolViolation) return refuse(offer.error());
        return offer.error();
    }
    if (offer.value().message.kind != static_cast<std::uint32_t>(Kind::Offer))
        return refuse(Error{ErrorCode::ProtocolViolation, "expected a channel offer", offer.value().message.kind});
    if (!offer.value().fd.valid())
        return refuse(Error{ErrorCode::ProtocolViolation, "the channel offer carried no memfd", 0});
    if (offer.value().pid <= 0)
        return refuse(Error{ErrorCode::ProtocolViolation, "the channel offer carried no credentials", offer.value().pid});

    auto transport = detail::attach_region(offer.value().fd.get(), options);
    if (!transport.ok()) return refuse(transport.error());
    // The creator waits for our answer, so it is alive now: the pidfd names
    // it (docs/transports.md discusses pid reuse).
    auto liveness = detail::watch_process(offer.value().pid, options.liveness_interval);
    if (!liveness.ok()) return refuse(liveness.error());
    transport.value()->watch_peer(std::move(liveness).value());
    MILK_TRY(send_message(socket, HandshakeMessage{handshake_magic, static_cast<std::uint32_t>(Kind::Accept), 0}, -1));
    return ChannelEnd(std::move(transport).value());
}

}  // namespace milk::process
