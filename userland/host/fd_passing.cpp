#include "fd_passing.hpp"

#include <algorithm>

#include <cerrno>
#include <climits>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>

namespace milk::host::detail {

Result<void> send_record(int socket, std::span<const std::byte> record, int fd) {
    iovec data{const_cast<std::byte*>(record.data()), record.size()};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    if (fd >= 0) {
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        cmsghdr* entry = CMSG_FIRSTHDR(&header);
        entry->cmsg_level = SOL_SOCKET;
        entry->cmsg_type = SCM_RIGHTS;
        entry->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(entry), &fd, sizeof fd);
    }
    for (;;) {
        const ssize_t sent = ::sendmsg(socket, &header, MSG_NOSIGNAL);
        if (sent == static_cast<ssize_t>(record.size())) return {};
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN))
            return Error{ErrorCode::PeerClosed, "the other side of the socket hung up", errno};
        if (sent < 0) return Error{ErrorCode::SystemError, "sendmsg failed", errno};
        return Error{ErrorCode::SystemError, "a record was sent in part", sent};
    }
}

Result<ReceivedRecord> receive_record(int socket, std::span<std::byte> record, Deadline deadline) {
    for (;;) {
        int timeout_ms = -1;
        if (!deadline.is_never()) {
            const auto left = deadline.at() - Deadline::Clock::now();
            if (left <= Deadline::Clock::duration::zero())
                return Error{ErrorCode::TimedOut, "no answer on the socket before the deadline", 0};
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
            timeout_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
        }
        pollfd entry{socket, POLLIN, 0};
        const int ready = ::poll(&entry, 1, timeout_ms);
        if (ready > 0) break;
        if (ready < 0 && errno != EINTR) return Error{ErrorCode::SystemError, "poll on a socket failed", errno};
    }
    ReceivedRecord received;
    iovec data{record.data(), record.size()};
    // Room for several descriptors, so that extra ones arrive and are
    // closed here rather than being truncated silently by the kernel, and
    // for the sender's credentials, which come along on a socket with
    // SO_PASSCRED (a client's socket to milkd once a process channel came
    // over it: a kernel successor then arrives with them).
    constexpr std::size_t max_fds = 8;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(max_fds * sizeof(int)) + CMSG_SPACE(sizeof(ucred))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t got = 0;
    do {
        got = ::recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got < 0 && errno == ECONNRESET) return received;  // the peer went: end of stream
    if (got < 0) return Error{ErrorCode::SystemError, "recvmsg failed", errno};
    std::size_t fd_count = 0;
    for (cmsghdr* entry = CMSG_FIRSTHDR(&header); entry != nullptr; entry = CMSG_NXTHDR(&header, entry)) {
        if (entry->cmsg_level != SOL_SOCKET || entry->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (entry->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(entry) + i * sizeof(int), sizeof fd);
            FileDescriptor owned(fd);
            if (fd_count++ == 0) received.fd = std::move(owned);
        }
    }
    if ((header.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0 || fd_count > 1)
        return Error{ErrorCode::ProtocolViolation, "a record with extra bytes or descriptors", got};
    received.bytes = static_cast<std::size_t>(got);
    return received;
}

Result<void> send_chunks(int socket, std::span<const std::byte> bytes, std::size_t chunk) {
    for (std::size_t done = 0; done < bytes.size(); done += chunk)
        MILK_TRY(send_record(socket, bytes.subspan(done, std::min(chunk, bytes.size() - done))));
    return {};
}

Result<void> receive_chunks(int socket, std::span<std::byte> into, std::size_t chunk, Deadline deadline) {
    for (std::size_t done = 0; done < into.size(); done += chunk) {
        const std::size_t wanted = std::min(chunk, into.size() - done);
        auto received = MILK_TRY(receive_record(socket, into.subspan(done, wanted), deadline));
        if (received.bytes == 0) return Error{ErrorCode::PeerClosed, "the socket closed in the middle of a snapshot", 0};
        if (received.bytes != wanted || received.fd.valid())
            return Error{ErrorCode::ProtocolViolation, "a snapshot packet of the wrong length", 
                         static_cast<std::int64_t>(received.bytes)};
    }
    return {};
}

}  // namespace milk::host::detail
