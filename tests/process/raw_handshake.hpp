// A raw handshake record for the process tests that play a peer by hand
// (hostile_creator_test.cpp, contract_peer_test.cpp).
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace milk::test {

// Sends a handshake record with our credentials and any descriptors. (The
// credentials matter: a record without them reads as "no credentials" or not
// depending on whether the receiver had set SO_PASSCRED when it was sent.)
inline void send_raw(int socket, const void* data, std::size_t size, const int* fds, std::size_t fd_count) {
    iovec vector{const_cast<void*>(data), size};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(4 * sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &vector;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = CMSG_SPACE(sizeof(ucred)) + (fd_count > 0 ? CMSG_SPACE(fd_count * sizeof(int)) : 0);
    cmsghdr* entry = CMSG_FIRSTHDR(&header);
    entry->cmsg_level = SOL_SOCKET;
    entry->cmsg_type = SCM_CREDENTIALS;
    entry->cmsg_len = CMSG_LEN(sizeof(ucred));
    const ucred ours{::getpid(), ::getuid(), ::getgid()};
    std::memcpy(CMSG_DATA(entry), &ours, sizeof ours);
    if (fd_count > 0) {
        entry = CMSG_NXTHDR(&header, entry);
        entry->cmsg_level = SOL_SOCKET;
        entry->cmsg_type = SCM_RIGHTS;
        entry->cmsg_len = CMSG_LEN(fd_count * sizeof(int));
        std::memcpy(CMSG_DATA(entry), fds, fd_count * sizeof(int));
    }
    if (::sendmsg(socket, &header, MSG_NOSIGNAL) < 0) std::abort();
}

}  // namespace milk::test
