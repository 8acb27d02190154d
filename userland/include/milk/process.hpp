// The process transport: a channel between two processes over shared memory.
//
// One process creates the channel: a memfd holding a one-page header and the
// same region the inproc transport uses (control block, rings, return rings,
// exchange heap; see channel_region.hpp), sealed so that it can neither
// shrink nor grow. The other process receives the memfd (over a Unix socket
// with SCM_RIGHTS, or inherited across fork/exec), checks the header against
// the file before it maps anything, and takes side Second. Both ends are
// ordinary milk::ChannelEnds, so generated code is the same as inproc:
//
//   // creator                                  // other process
//   auto pending = milk::process::create_channel().value();
//   auto end = milk::process::send_channel(      auto end = milk::process::receive_channel(
//       socket, std::move(pending),                   socket, Deadline::after(5s)).value();
//       Deadline::after(5s)).value();
//   auto client = PingPong::client(std::move(end));  auto server = PingPong::server(std::move(end));
//
// The peer is untrusted: everything read from the region is checked before
// use (docs/transports.md). A peer that dies without closing (SIGKILL) is
// noticed through a pidfd of its process, which a watcher thread (one per
// process) waits on: a blocked receive or send is woken and returns
// PeerClosed as soon as the peer is gone. Where no watcher runs (a child
// forked after it started, under ThreadSanitizer), within the liveness
// interval (2 ms by default) plus wake-up latency. The peer's pid comes from the kernel (SCM_CREDENTIALS on the
// socket, fork()'s return value, getppid()), never from the region.
#pragma once

#include "channel.hpp"
#include "deadline.hpp"
#include "doorbell.hpp"
#include "exchange_heap.hpp"
#include "result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <sys/types.h>

namespace milk {
class RegionTransport;
}

namespace milk::process {

using milk::WaitMode;

// What the creator chooses. The geometry and the wait mode are the
// channel's: they go into the region's header and the other side uses them.
struct Options {
    // Slots per direction; a power of two in [2, 2^24].
    std::uint32_t ring_capacity = 256;
    // Exchange-heap bytes each side allocates from; a power of two in
    // [64, 2^30]. Only touched pages use memory.
    std::uint32_t heap_bytes_per_side = 4u << 20;
    // How long a waiter spins before it sleeps; zero sleeps at once.
    std::chrono::nanoseconds spin_budget = std::chrono::microseconds(10);
    WaitMode wait_mode = WaitMode::SpinThenSleep;
    // Where no watcher thread runs: the longest a waiter sleeps before it
    // checks that the peer process still exists, the bound on how late a
    // killed peer is noticed. Must be positive.
    std::chrono::nanoseconds liveness_interval = std::chrono::milliseconds(2);
};

// What the attaching side chooses for itself.
struct AttachOptions {
    std::chrono::nanoseconds spin_budget = std::chrono::microseconds(10);
    std::chrono::nanoseconds liveness_interval = std::chrono::milliseconds(2);
};

// The first page of a process channel's memfd: all the attaching side needs
// to find its way in the rest of the file. The channel region starts at
// `header_bytes` (the page size). Read once, with pread, and checked against
// the file's size and seals before anything is mapped.
struct RegionFileHeader {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t header_bytes;
    std::uint32_t ring_capacity;
    std::uint32_t pool_bytes;
    std::uint32_t wait_mode;  // a WaitMode
    std::uint32_t reserved;   // zero
    std::uint64_t channel_bytes;  // ChannelRegionLayout::total_bytes
};
static_assert(sizeof(RegionFileHeader) == 40);

// "milkchan", little-endian.
inline constexpr std::uint64_t region_file_magic = 0x6e6168636b6c696dULL;
inline constexpr std::uint32_t region_file_version = 1;

// The handshake over the Unix socket (send_channel / receive_channel): one
// fixed record each way, each with the sender's SCM_CREDENTIALS.
//   Offer   creator -> attacher, with the memfd (SCM_RIGHTS)
//   Accept  attacher -> creator, the channel is attached
//   Refuse  attacher -> creator, `code` = the ErrorCode of the failure
enum class HandshakeKind : std::uint32_t { Offer = 1, Accept = 2, Refuse = 3 };

// "milkhand", little-endian.
inline constexpr std::uint64_t handshake_magic = 0x646e61686b6c696dULL;

struct HandshakeMessage {
    std::uint64_t magic = handshake_magic;
    std::uint32_t kind = 0;  // a HandshakeKind
    std::uint32_t code = 0;
};
static_assert(sizeof(HandshakeMessage) == 16);

class PendingChannel;

// A new channel in a new memfd, with this process as side First. Nothing can
// be sent until the other process is known: hand the channel over with
// send_channel(), or fork and call bind_child(). InvalidArgument for options
// out of range, SystemError when the memfd cannot be made.
[[nodiscard]] Result<PendingChannel> create_channel(const Options& options = {});

// Passes the channel's memfd over a connected Unix socket (SCM_RIGHTS, with
// our credentials) and waits until the peer attached and answered with its
// credentials, from which the kernel-checked pid of the peer process is
// taken. Sets SO_PASSCRED on the socket. PeerClosed when the peer hangs up
// or refuses (then `detail` is the peer's ErrorCode), TimedOut at the
// deadline, which is not optional: a peer that never answers must not hold
// us forever. ProtocolViolation when the peer did not seal the memfd
// (docs/transports.md, "Seals"). The socket stays open and the caller's;
// the channel no longer needs it.
[[nodiscard]] Result<ChannelEnd> send_channel(int socket, PendingChannel&& channel, Deadline deadline);

// The other half of send_channel(): receives the memfd, checks, maps and
// seals it, and answers, or TimedOut at the deadline. A region whose header,
// size or seals are wrong is refused (ProtocolViolation, the peer is told).
[[nodiscard]] Result<ChannelEnd> receive_channel(int socket, Deadline deadline, const AttachOptions& options = {});

// After fork(): the creator's end, watching `child` (fork()'s return value:
// the kernel's word, and a child's pid cannot be reused before it is
// reaped). The child attaches with attach_inherited(channel.fd(), ...).
[[nodiscard]] Result<ChannelEnd> bind_child(PendingChannel&& channel, pid_t child);

// In a child that inherited the memfd (fork, or fork and exec with the fd
// kept open): attaches as side Second. `parent` is the creator's pid, and
// must be our parent: it is checked against getppid() after its pidfd is
// open, which proves the pidfd names the creator and not a process that
// reused its pid. PeerClosed when the parent is already gone. The fd stays
// the caller's (the mapping does not need it).
[[nodiscard]] Result<ChannelEnd> attach_inherited(int fd, pid_t parent, const AttachOptions& options = {});

// A channel created by this process whose peer is not known yet. Move-only.
// Dropping it closes the channel (a child that attached sees PeerClosed).
//
// After fork(), the child has a copy of this object: leave it alone and let
// it go with the process (exec, or _exit). Destroying that copy closes side
// First as the child sees it, which only confuses the child's own end.
class [[nodiscard]] PendingChannel {
public:
    PendingChannel(PendingChannel&& other) noexcept;
    PendingChannel& operator=(PendingChannel&& other) noexcept;
    PendingChannel(const PendingChannel&) = delete;
    PendingChannel& operator=(const PendingChannel&) = delete;
    ~PendingChannel();

    // The memfd (close-on-exec): inherited by fork as is; to keep it across
    // exec, dup2 it in the child (dup2 clears close-on-exec on the copy).
    // Aborts on a moved-from PendingChannel.
    [[nodiscard]] int fd() const;

    // This end's exchange heap, for its accounting (usage()): valid as long
    // as the pointer is held, after the channel closed too.
    [[nodiscard]] std::shared_ptr<const ExchangeHeapSide> heap() const;

private:
    friend Result<PendingChannel> create_channel(const Options& options);
    friend Result<ChannelEnd> send_channel(int socket, PendingChannel&& channel, Deadline deadline);
    friend Result<ChannelEnd> bind_child(PendingChannel&& channel, pid_t child);

    PendingChannel(std::unique_ptr<RegionTransport> transport, int fd, std::chrono::nanoseconds liveness_interval);
    void require_valid(const char* operation) const;
    // Gives the transport a watcher of process `peer` and wraps it into an end.
    [[nodiscard]] Result<ChannelEnd> bind(pid_t peer) &&;
    // bind(), for a forked child that may not have attached yet: its seals
    // are checked with its first message.
    [[nodiscard]] Result<ChannelEnd> bind_unsealed(pid_t peer) &&;

    std::unique_ptr<RegionTransport> m_transport;
    int m_fd = -1;
    std::chrono::nanoseconds m_liveness_interval{};
};

}  // namespace milk::process
