// Fixed records over a Unix SOCK_SEQPACKET socket, each with at most one file
// descriptor (SCM_RIGHTS): how the host talks to its runners and how milkd
// answers a client before a channel is handed over. Not installed.
#pragma once

#include "process_internal.hpp"  // milk::process::detail::FileDescriptor

#include <milk/deadline.hpp>
#include <milk/result.hpp>

#include <cstddef>
#include <span>

namespace milk::host::detail {

using process::detail::FileDescriptor;

// Sends `record` as one packet, with `fd` when fd >= 0. PeerClosed when the
// other side hung up (never SIGPIPE).
[[nodiscard]] Result<void> send_record(int socket, std::span<const std::byte> record, int fd = -1);

struct ReceivedRecord {
    std::size_t bytes = 0;  // the packet's length; 0 at end of stream
    FileDescriptor fd;      // the descriptor that came with it, if any
};

// Receives one packet into `record`. A packet longer than `record`, or with
// more than one descriptor, is ProtocolViolation (every descriptor received
// is closed unless returned); end of stream is bytes == 0; TimedOut at the
// deadline.
[[nodiscard]] Result<ReceivedRecord> receive_record(int socket, std::span<std::byte> record,
                                                    Deadline deadline = Deadline::never());

// A byte string as packets of at most `chunk` bytes (none when empty), and
// its receiving side, which knows the length from a record before it.
[[nodiscard]] Result<void> send_chunks(int socket, std::span<const std::byte> bytes, std::size_t chunk);
[[nodiscard]] Result<void> receive_chunks(int socket, std::span<std::byte> into, std::size_t chunk,
                                          Deadline deadline = Deadline::never());

template <typename T>
[[nodiscard]] std::span<const std::byte> bytes_of(const T& value) {
    return std::as_bytes(std::span<const T, 1>(&value, 1));
}
template <typename T>
[[nodiscard]] std::span<std::byte> writable_bytes_of(T& value) {
    return std::as_writable_bytes(std::span<T, 1>(&value, 1));
}

}  // namespace milk::host::detail
