// milk::process: the memfd behind a process channel, creating it, checking
// it before attaching, and the fork-inheritance path.
#include "milk/process.hpp"

#include "milk/channel_region.hpp"
#include "milk/region.hpp"
#include "milk/region_transport.hpp"
#include "process_internal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace milk::process {
namespace detail {

void FileDescriptor::reset() noexcept {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

Result<void> check_wait_options(std::chrono::nanoseconds spin_budget, std::chrono::nanoseconds interval) {
    if (spin_budget.count() < 0)
        return Error{ErrorCode::InvalidArgument, "spin budget cannot be negative", spin_budget.count()};
    if (interval.count() <= 0)
        return Error{ErrorCode::InvalidArgument, "the liveness interval must be positive", interval.count()};
    return {};
}

namespace {

std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

std::size_t round_up(std::size_t value, std::size_t alignment) { return (value + alignment - 1) / alignment * alignment; }

// A channel violation by the creator of the region: the attaching side's
// errors all look alike, with `what` saying which check failed.
Error bad_region(const char* what, std::int64_t detail) { return Error{ErrorCode::ProtocolViolation, what, detail}; }

}  // namespace

Result<std::unique_ptr<RegionTransport>> attach_region(int fd, const AttachOptions& options) {
    MILK_TRY(check_wait_options(options.spin_budget, options.liveness_interval));

    // The file first: a regular file that can neither shrink nor grow, so
    // that what we map stays backed (a page past the end of a file raises
    // SIGBUS on access) and its size, checked below, is its size for good.
    struct stat status{};
    if (::fstat(fd, &status) != 0) return Error{ErrorCode::SystemError, "fstat of the channel fd failed", errno};
    if (!S_ISREG(status.st_mode)) return bad_region("channel fd is not a memfd (not a regular file)", status.st_mode);
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0) return bad_region("channel fd is not a memfd (it has no seals)", errno);
    constexpr int required_seals = F_SEAL_SHRINK | F_SEAL_GROW;
    if ((seals & required_seals) != required_seals)
        return bad_region("channel memfd is not sealed against shrinking and growing", seals);

    // The header: copied out once with pread, never mapped, so nothing the
    // creator writes later can change what we checked.
    RegionFileHeader header{};
    const std::size_t page = page_size();
    if (static_cast<std::uint64_t>(status.st_size) < page)
        return bad_region("channel memfd is shorter than its header page", status.st_size);
    ssize_t got = 0;
    do {
        got = ::pread(fd, &header, sizeof header, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return Error{ErrorCode::SystemError, "reading the channel header failed", errno};
    if (static_cast<std::size_t>(got) != sizeof header)
        return bad_region("channel memfd is shorter than its header", got);
    if (header.magic != region_file_magic)
        return bad_region("channel header has a bad magic number (not a milk channel)",
                          static_cast<std::int64_t>(header.magic));
    if (header.version != region_file_version)
        return bad_region("channel header has an unsupported version", header.version);
    if (header.header_bytes != page)
        return bad_region("channel header size is not the page size", header.header_bytes);
    if (header.wait_mode != static_cast<std::uint32_t>(WaitMode::SpinThenSleep) &&
        header.wait_mode != static_cast<std::uint32_t>(WaitMode::Poll))
        return bad_region("channel header names an unknown wait mode", header.wait_mode);
    if (header.reserved != 0) return bad_region("channel header has reserved bits set", header.reserved);

    // The layout is computed here from the two numbers, exactly as the
    // creator computed it; the header's own total is only cross-checked.
    auto layout = ChannelRegionLayout::compute(header.ring_capacity, header.pool_bytes);
    if (!layout.ok()) return bad_region(layout.error().what, layout.error().detail);
    if (header.channel_bytes != layout.value().total_bytes)
        return bad_region("channel header size does not match its ring capacity and pool size",
                          static_cast<std::int64_t>(header.channel_bytes));
    const std::uint64_t expected_file = page + round_up(layout.value().total_bytes, page);
    if (static_cast<std::uint64_t>(status.st_size) != expected_file)
        return bad_region("channel memfd size does not match its header", status.st_size);

    auto region = Region::try_map_shared(fd, page, layout.value().total_bytes);
    if (!region.ok()) return region.error();
    // Both mappings exist now (the creator mapped before handing the memfd
    // out): seal it against any other writable mapping and against hole
    // punching (process_internal.hpp). A creator that sealed it already
    // with F_SEAL_SEAL must have sealed it this way too.
    if (::fcntl(fd, F_ADD_SEALS, peer_seals) != 0) {
        const int now = ::fcntl(fd, F_GET_SEALS);
        if (now < 0 || (now & peer_seals) != peer_seals)
            return bad_region("channel memfd cannot be sealed against hole punching (F_SEAL_FUTURE_WRITE)", now);
    }
    const WaitPolicy policy{static_cast<WaitMode>(header.wait_mode), options.spin_budget};
    // try_create checks every ring index it reads against the ring's window
    // (CorruptRing), as it does every time later.
    return RegionTransport::try_create(std::move(region).value(), layout.value(), ChannelSide::Second, policy);
}

}  // namespace detail

using detail::FileDescriptor;

PendingChannel::PendingChannel(std::unique_ptr<RegionTransport> transport, int fd,
                               std::chrono::nanoseconds liveness_interval)
    : m_transport(std::move(transport)), m_fd(fd), m_liveness_interval(liveness_interval) {}

PendingChannel::PendingChannel(PendingChannel&& other) noexcept
    : m_transport(std::move(other.m_transport)),
      m_fd(std::exchange(other.m_fd, -1)),
      m_liveness_interval(other.m_liveness_interval) {}

PendingChannel& PendingChannel::operator=(PendingChannel&& other) noexcept {
    if (this != &other) {
        m_transport = std::move(other.m_transport);
        if (m_fd >= 0) ::close(m_fd);
        m_fd = std::exchange(other.m_fd, -1);
        m_liveness_interval = other.m_liveness_interval;
    }
    return *this;
}

// The transport's destructor closes side First, so an attached peer learns
// that nobody will use the channel.
PendingChannel::~PendingChannel() {
    if (m_fd >= 0) ::close(m_fd);
}

void PendingChannel::require_valid(const char* operation) const {
    if (m_transport) return;
    std::fprintf(stderr, "milk: use of a moved-from PendingChannel: %s\n", operation);
    std::fflush(stderr);
    std::abort();
}

int PendingChannel::fd() const {
    require_valid("fd");
    return m_fd;
}

std::shared_ptr<const ExchangeHeapSide> PendingChannel::heap() const {
    require_valid("heap");
    return m_transport->heap().shared_from_this();
}

Result<ChannelEnd> PendingChannel::bind(pid_t peer) && {
    require_valid("bind");
    // Consumed whatever happens: on failure the transport closes side First.
    std::unique_ptr<RegionTransport> transport = std::move(m_transport);
    FileDescriptor fd(std::exchange(m_fd, -1));
    auto liveness = detail::watch_process(peer, m_liveness_interval);
    if (!liveness.ok()) return liveness.error();
    transport->watch_peer(std::move(liveness).value());
    return ChannelEnd(std::move(transport));
}

Result<ChannelEnd> PendingChannel::bind_unsealed(pid_t peer) && {
    require_valid("bind");
    // The child may not have attached yet: its seals are checked when its
    // first message arrives (RegionTransport::require_peer_seal).
    const int memfd = ::dup(m_fd);
    if (memfd < 0) return Error{ErrorCode::SystemError, "dup of the channel memfd failed", errno};
    m_transport->require_peer_seal(memfd, detail::peer_seals);
    return std::move(*this).bind(peer);
}

Result<PendingChannel> create_channel(const Options& options) {
    MILK_TRY(detail::check_wait_options(options.spin_budget, options.liveness_interval));
    if (options.wait_mode != WaitMode::SpinThenSleep && options.wait_mode != WaitMode::Poll)
        return Error{ErrorCode::InvalidArgument, "unknown wait mode", static_cast<std::int64_t>(options.wait_mode)};
    auto layout = ChannelRegionLayout::compute(options.ring_capacity, options.heap_bytes_per_side);
    if (!layout.ok()) return layout.error();
    const std::size_t page = detail::page_size();
    const std::size_t channel_bytes = detail::round_up(layout.value().total_bytes, page);

    FileDescriptor fd(::memfd_create("milk-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd.valid()) return Error{ErrorCode::SystemError, "memfd_create failed", errno};
    if (::ftruncate(fd.get(), static_cast<off_t>(page + channel_bytes)) != 0)
        return Error{ErrorCode::SystemError, "sizing the channel memfd failed", errno};
    // Sealed before the fd can reach anybody: the peer can then neither
    // shrink the file under our mapping (SIGBUS) nor change its size. The
    // peer adds the rest once it has mapped the region too (F_SEAL_FUTURE_WRITE
    // and F_SEAL_SEAL: attach_region), and we check that it did.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
        return Error{ErrorCode::SystemError, "sealing the channel memfd failed", errno};

    const RegionFileHeader header{region_file_magic,
                                  region_file_version,
                                  static_cast<std::uint32_t>(page),
                                  options.ring_capacity,
                                  options.heap_bytes_per_side,
                                  static_cast<std::uint32_t>(options.wait_mode),
                                  0,
                                  layout.value().total_bytes};
    if (::pwrite(fd.get(), &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
        return Error{ErrorCode::SystemError, "writing the channel header failed", errno};

    auto region = Region::try_map_shared(fd.get(), page, layout.value().total_bytes);
    if (!region.ok()) return region.error();
    RegionTransport::initialise(*region.value(), layout.value());
    // Our end exists from the start (nobody else can have written to the
    // region yet); only its liveness watcher waits for the peer.
    auto transport = RegionTransport::try_create(std::move(region).value(), layout.value(), ChannelSide::First,
                                                 WaitPolicy{options.wait_mode, options.spin_budget});
    if (!transport.ok()) return transport.error();
    // The descriptor changes hands last, so that no early return leaks it.
    return PendingChannel(std::move(transport).value(), std::move(fd).take(), options.liveness_interval);
}

Result<ChannelEnd> bind_child(PendingChannel&& channel, pid_t child) {
    if (child <= 0) return Error{ErrorCode::InvalidArgument, "bind_child needs the pid fork() returned", child};
    return std::move(channel).bind_unsealed(child);
}

Result<ChannelEnd> attach_inherited(int fd, pid_t parent, const AttachOptions& options) {
    if (parent <= 0) return Error{ErrorCode::InvalidArgument, "attach_inherited needs the parent's pid", parent};
    auto transport = detail::attach_region(fd, options);
    if (!transport.ok()) return transport.error();
    // A pid is only a name; the pidfd is the process. Opening it and then
    // seeing that `parent` is still our parent proves the pidfd names the
    // creator: had it exited before pidfd_open, we would have been
    // reparented and getppid() would differ.
    auto liveness = detail::watch_process(parent, options.liveness_interval);
    if (!liveness.ok()) return liveness.error();
    if (::getppid() != parent)
        return Error{ErrorCode::PeerClosed, "the creator of the channel is not (or no longer) our parent", parent};
    transport.value()->watch_peer(std::move(liveness).value());
    return ChannelEnd(std::move(transport).value());
}

}  // namespace milk::process
