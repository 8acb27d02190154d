// milk::kernel::KernelTransport: RegionTransport over a /dev/milk mapping,
// woken by ioctl and poll() instead of futexes.
#include "milk/kernel.hpp"

#include "milk/channel_status.hpp"

#include "milk_uapi.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <optional>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <type_traits>
#include <utility>

namespace milk::kernel {
namespace {

void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// The fd until it is handed to the transport: closed on every error path.
class FdGuard {
public:
    explicit FdGuard(int fd) : m_fd(fd) {}
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    ~FdGuard() {
        if (m_fd >= 0) ::close(m_fd);
    }
    [[nodiscard]] int get() const { return m_fd; }
    [[nodiscard]] int hand_over() { return std::exchange(m_fd, -1); }

private:
    int m_fd;
};

// The name fields of the ABI: NUL-terminated, and what fits.
template <std::size_t N>
[[nodiscard]] bool put_name(char (&field)[N], std::string_view name) {
    if (name.empty() || name.size() >= N) return false;
    std::memcpy(field, name.data(), name.size());
    return true;
}

template <std::size_t N>
[[nodiscard]] std::string get_name(const char (&field)[N]) {
    std::size_t length = 0;
    while (length < N && field[length] != '\0') ++length;
    return std::string(field, length);
}

Result<Serving> granted_serving(std::uint32_t flags) {
    switch (flags) {
    case 0: return Serving::InKick;
    case MILK_CHANNEL_THREAD: return Serving::Thread;
    case MILK_CHANNEL_POLLING_THREAD: return Serving::PollingThread;
    default:
        return Error{ErrorCode::SystemError, "the kernel granted serving flags this library does not know", flags};
    }
}

}  // namespace

Result<std::unique_ptr<KernelTransport>> KernelTransport::try_open(std::string_view component,
                                                                   std::string_view contract, std::uint32_t version,
                                                                   const Options& options) {
    const int fd = MILK_TRY(open_channel_fd(component, contract, version, options));
    // The sizes and flags are ours, and what the kernel granted is what
    // MILK_IOC_CHANNEL_INFO reports: opening is adopting one's own fd.
    return try_adopt(fd, options);
}

Result<std::unique_ptr<KernelTransport>> KernelTransport::try_adopt(int owned_fd, const Options& options) {
    FdGuard fd(owned_fd);
    if (fd.get() < 0) return Error{ErrorCode::InvalidArgument, "no file descriptor to adopt", fd.get()};
    if (options.spin_budget.count() < 0)
        return Error{ErrorCode::InvalidArgument, "spin budget cannot be negative", options.spin_budget.count()};
    milk_channel_info info{};
    if (::ioctl(fd.get(), MILK_IOC_CHANNEL_INFO, &info) != 0) {
        const int error = errno;
        if (error == ENODEV) return Error{ErrorCode::InvalidArgument, "the milk fd holds no channel", error};
        return Error{ErrorCode::SystemError, "MILK_IOC_CHANNEL_INFO failed (not a milk fd?)", error};
    }
    // The same two numbers give the same layout on both sides.
    auto layout = MILK_TRY(ChannelRegionLayout::compute(info.ring_capacity, info.pool_bytes));
    if (info.heap_offset != layout.heap_offset || info.region_bytes < layout.total_bytes)
        return Error{ErrorCode::SystemError, "the kernel's channel layout differs from ours",
                     static_cast<std::int64_t>(info.heap_offset)};
    // What the kernel granted: a component that needs a thread gets one.
    const Serving granted = MILK_TRY(granted_serving(info.flags));
    auto region = MILK_TRY(Region::try_map_shared(fd.get(), 0, info.region_bytes));
    // Poll mode: the kernel never sleeps on (or rings) the region's futex
    // words, so the inner transport must not either; waiting is ours.
    const WaitPolicy policy{WaitMode::Poll, std::chrono::nanoseconds(0)};
    auto inner = MILK_TRY(RegionTransport::try_create(region, layout, ChannelSide::First, policy));
    auto transport = std::make_unique<KernelTransport>(PassKey{}, fd.hand_over(), std::move(inner), std::move(region),
                                                       layout, options, granted);
    transport->m_component = get_name(info.component);
    transport->m_contract = get_name(info.contract);
    return transport;
}

KernelTransport::KernelTransport(PassKey, int fd, std::unique_ptr<RegionTransport> inner,
                                 std::shared_ptr<Region> region, const ChannelRegionLayout& layout,
                                 const Options& options, Serving granted)
    : m_fd(fd),
      m_inner(std::move(inner)),
      m_region(std::move(region)),
      m_layout(layout),
      m_spin_budget(options.spin_budget),
      m_serving(granted),
      m_kick(options.kick) {}

KernelTransport::~KernelTransport() { close(nullptr); }

Error KernelTransport::kernel_close_error() const {
    auto* control = reinterpret_cast<ChannelControl*>(m_region->base() + m_layout.control_offset);
    const SideStatus& status = control->status[side_index(ChannelSide::Second)];
    // The same reading as a process peer's close (channel_status.hpp): a
    // component that failed with a timeout of its own closes the channel; it
    // must not make this side's receives report timeouts.
    if (!has_closed(status)) return Error{ErrorCode::PeerClosed, "the kernel closed the channel", 0};
    return peer_close_error(status);
}

Result<std::uint32_t> KernelTransport::kick() {
    const long taken = ::ioctl(m_fd, MILK_IOC_KICK, 0);
    if (taken >= 0) {
        const auto count = static_cast<std::uint32_t>(taken);
        m_untaken = count > m_untaken ? 0 : m_untaken - count;
        // Fewer taken than we sent: the reply ring is full, the channel is
        // parked for a move, or the host's resume took them in a kick of
        // its own. The ring says how many are left.
        if (m_untaken > 0) {
            auto left = m_inner->unreceived_count();
            if (!left.ok()) return left.error();
            m_untaken = left.value();
        }
        return count;
    }
    const int error = errno;
    m_kick_found_closed = error == EPIPE;
    if (error == EPROTO || error == EPIPE || error == ENOMEM) return kernel_close_error();
    return Error{ErrorCode::SystemError, "MILK_IOC_KICK failed", error};
}

Result<void> KernelTransport::ring_thread() {
    auto* control = reinterpret_cast<ChannelControl*>(m_region->base() + m_layout.control_offset);
    // The runtime's doorbell protocol (docs/runtime.md): an exchange after
    // the publish; the kernel thread exchanges the word before its re-check.
    if (std::atomic_ref<std::uint32_t>(control->data_bell[0].state).exchange(0, std::memory_order_seq_cst) == 0)
        return {};
    if (::ioctl(m_fd, MILK_IOC_KICK, 0) < 0) return Error{ErrorCode::SystemError, "MILK_IOC_KICK failed", errno};
    return {};
}

Result<void> KernelTransport::send(const Slot& slot) { return send_batch(std::span<const Slot>(&slot, 1)); }

Result<void> KernelTransport::send_batch(std::span<const Slot> slots) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "send on a channel end that was closed", 0};
    if (m_serving != Serving::InKick) {
        // The thread drains the ring on its own, so a full ring is waited
        // out by the inner transport (it also stops at a close).
        auto sent = m_inner->send_batch(slots);
        if (!sent.ok()) return sent.error();
        return ring_thread();
    }
    if (m_kick == Kick::ByCaller) return publish_for_caller(slots);
    std::size_t done = 0;
    while (done < slots.size()) {
        std::size_t room = m_layout.ring_capacity - m_untaken;
        if (room == 0) {
            // The kernel takes a message only when its reply has room, so a
            // full ring means we have not read its replies: waiting here
            // would wait for ourselves.
            auto taken = kick();
            if (!taken.ok()) return taken.error();
            room = m_layout.ring_capacity - m_untaken;
            if (room == 0)
                return Error{ErrorCode::WouldBlock, "the kernel component takes no more until its replies are received",
                             m_untaken};
        }
        const std::size_t chunk = slots.size() - done < room ? slots.size() - done : room;
        auto sent = m_inner->send_batch(slots.subspan(done, chunk));
        if (!sent.ok()) return sent.error();
        m_untaken += static_cast<std::uint32_t>(chunk);
        done += chunk;
        auto taken = kick();
        if (!taken.ok()) {
            // Closed before this kick looked (a move retired the channel, or
            // an earlier violation closed it): what we published stays in
            // ring 0, untaken, where an end that follows the component reads
            // it back (unreceived) and sends it on. Reporting it as not sent
            // would have it sent twice. The close shows at the next receive.
            if (m_kick_found_closed && done == slots.size()) return {};
            return taken.error();
        }
    }
    return {};
}

Result<void> KernelTransport::publish_for_caller(std::span<const Slot> slots) {
    // The kernel takes only when the caller kicks, so the room is what the
    // ring itself says; all or nothing, so that a failed send sent nothing.
    const std::size_t untaken = MILK_TRY(m_inner->unreceived_count());
    if (m_layout.ring_capacity - untaken < slots.size())
        return Error{ErrorCode::WouldBlock, "the kernel has not taken what was sent: kick the channel",
                     static_cast<std::int64_t>(untaken)};
    return m_inner->send_batch(slots);
}

Result<void> KernelTransport::wait_for_room(std::size_t slots, Deadline deadline) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "wait_for_room on a channel end that was closed", 0};
    // A serving thread drains the ring on its own: the inner transport waits.
    if (m_serving != Serving::InKick) return m_inner->wait_for_room(slots, deadline);
    if (slots > m_layout.ring_capacity)
        return Error{ErrorCode::InvalidArgument, "more slots than the ring holds", static_cast<std::int64_t>(slots)};
    if (m_kick == Kick::ByCaller) {
        // Only the caller's kick makes room; waiting here would wait for ourselves.
        const std::size_t untaken = MILK_TRY(m_inner->unreceived_count());
        if (m_layout.ring_capacity - untaken >= slots) return {};
        return Error{ErrorCode::WouldBlock, "the kernel has not taken what was sent: kick the channel",
                     static_cast<std::int64_t>(untaken)};
    }
    if (m_layout.ring_capacity - m_untaken >= slots) return {};
    // Inline in the kick, the kernel takes what it can take now; what it
    // cannot take waits for us to read its replies, not for time to pass
    // (send says the same).
    static_cast<void>(MILK_TRY(kick()));
    if (m_layout.ring_capacity - m_untaken >= slots) return {};
    return Error{ErrorCode::WouldBlock, "the kernel component takes no more until its replies are received", m_untaken};
}

Result<Slot> KernelTransport::receive(Deadline deadline) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "receive on a channel end that was closed", 0};
    // The common case, a reply already in the ring, reads the clock only
    // inside the inner receive: the spin's end is computed on the first miss.
    const bool poll_only = deadline.passed();
    std::optional<Deadline::Clock::time_point> spin_end;
    std::uint32_t spins = 0;
    for (;;) {
        auto slot = m_inner->receive(m_already_passed);
        if (slot.ok() || slot.error().code != ErrorCode::WouldBlock) return slot;
        if (!spin_end) spin_end = Deadline::Clock::now() + m_spin_budget;
        // Messages the kernel left (it takes one ring's worth per kick) get
        // another kick; a close it reports shows in the next look at the ring.
        // A kick that takes nothing while some wait means a channel parked
        // for a move: wait as for a reply (the move's close, or the resume's
        // replies, wake the fd).
        if (m_untaken > 0) {
            auto taken = kick();
            if (!taken.ok() || taken.value() > 0) continue;
        }
        if (poll_only) return slot;
        if (deadline.passed()) return Error{ErrorCode::TimedOut, "no message before the deadline", 0};
        if (Deadline::Clock::now() < *spin_end) {
            relax();
            // A serving kernel thread may be runnable on this very CPU:
            // let it run now and then instead of spinning against it.
            if (++spins % 256 == 0) ::sched_yield();
            continue;
        }
        int timeout_ms = -1;
        if (!deadline.is_never()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.at() - Deadline::Clock::now());
            timeout_ms = left.count() < 0 ? 0 : static_cast<int>(left.count() > 1'000'000 ? 1'000'000 : left.count());
        }
        pollfd waiting{m_fd, POLLIN, 0};
        const int ready = ::poll(&waiting, 1, timeout_ms);
        if (ready < 0 && errno != EINTR) return Error{ErrorCode::SystemError, "poll on the milk device failed", errno};
        // The fd was closed under us (by this process): nothing will ever
        // wake this receive again.
        if (ready > 0 && (waiting.revents & POLLNVAL) != 0)
            return Error{ErrorCode::PeerClosed, "the channel's file descriptor was closed", m_fd};
    }
}

Result<Buffer> KernelTransport::allocate(std::size_t size) { return m_inner->allocate(size); }

Result<WireBytes> KernelTransport::export_buffer(Buffer&& buffer) { return m_inner->export_buffer(std::move(buffer)); }

Result<Buffer> KernelTransport::import_buffer(WireBytes wire) { return m_inner->import_buffer(wire); }

void KernelTransport::close(const Error* reason) noexcept {
    if (m_closed) return;
    m_closed = true;
    m_inner->close(reason);
    // One last kick (or wake-up of the serving thread), so that the kernel
    // takes what is left and sees the close now; then the fd goes. The region stays mapped while buffers
    // into it live (they hold the Region), and the mapping holds the file.
    static_cast<void>(kick());
    ::close(m_fd);
    m_fd = -1;
}

std::string KernelTransport::error_text() const {
    if (m_fd < 0) return {};
    milk_channel_error record{};
    if (::ioctl(m_fd, MILK_IOC_CHANNEL_ERROR, &record) != 0 || record.reason == 0) return {};
    record.text[sizeof(record.text) - 1] = '\0';
    return record.text;
}

Result<void> to_settings_table(const Settings& settings, ::milk_settings& table) {
    table = ::milk_settings{};
    // milk::Settings holds only valid names (Settings::set checks them), at
    // most MILK_SETTINGS_MAX of them.
    table.count = static_cast<milk_u32>(settings.size());
    for (std::size_t i = 0; i < settings.size(); ++i) {
        // milk.ko's table holds integers only (components in the kernel
        // read no text: component.hpp's Settings).
        if (settings[i].kind != Settings::Kind::Integer)
            return Error{ErrorCode::InvalidArgument, "a text setting cannot go into milk.ko (settings there are integers)",
                         static_cast<std::int64_t>(i)};
        if (!put_name(table.entries[i].name, settings.name_of(i)))
            return Error{ErrorCode::InvalidArgument, "a setting's name does not fit", static_cast<std::int64_t>(i)};
        table.entries[i].value = settings[i].value;
    }
    return {};
}

Result<ChannelEnd> open_channel(std::string_view component, std::string_view contract, std::uint32_t version,
                                const Options& options) {
    return ChannelEnd(MILK_TRY(KernelTransport::try_open(component, contract, version, options)));
}

void prepare_kick_sqe(::io_uring_sqe& sqe, int channel_fd, std::uint64_t user_data) {
    sqe = ::io_uring_sqe{};
    sqe.opcode = IORING_OP_URING_CMD;
    sqe.fd = channel_fd;
    sqe.cmd_op = MILK_URING_KICK;
    sqe.user_data = user_data;
}

namespace {

// The request MILK_IOC_OPEN_CHANNEL and MILK_IOC_OPEN_RESTORED share.
Result<milk_channel_open> open_request(std::string_view component, std::string_view contract, std::uint32_t version,
                                       const Options& options) {
    milk_channel_open request{};
    if (!put_name(request.component, component))
        return Error{ErrorCode::InvalidArgument, "component name empty or too long",
                     static_cast<std::int64_t>(component.size())};
    if (!put_name(request.contract, contract))
        return Error{ErrorCode::InvalidArgument, "contract name empty or too long",
                     static_cast<std::int64_t>(contract.size())};
    // The module checks the characters (EINVAL); an empty name is none.
    if (!options.instance.empty() && !put_name(request.instance, options.instance))
        return Error{ErrorCode::InvalidArgument, "instance name too long",
                     static_cast<std::int64_t>(options.instance.size())};
    if (options.spin_budget.count() < 0)
        return Error{ErrorCode::InvalidArgument, "spin budget cannot be negative", options.spin_budget.count()};
    // The same two numbers give the same layout on both sides.
    MILK_TRY(ChannelRegionLayout::compute(options.ring_capacity, options.pool_bytes));
    request.version = version;
    request.ring_capacity = options.ring_capacity;
    request.pool_bytes = options.pool_bytes;
    switch (options.serving) {
    case Serving::InKick: request.flags = 0; break;
    case Serving::Thread: request.flags = MILK_CHANNEL_THREAD; break;
    case Serving::PollingThread: request.flags = MILK_CHANNEL_POLLING_THREAD; break;
    }
    MILK_TRY(to_settings_table(options.settings, request.settings));
    return request;
}

// EPROTONOSUPPORT: the component serves another contract, or another
// version (identity) of it. Which one, and the version it serves, come from
// MILK_IOC_COMPONENT_INFO, so that the error can name both versions: the
// caller's own, and the component's in `detail`.
Error protocol_refusal(int fd, const milk_channel_open& request) {
    milk_component_info info{};
    std::memcpy(info.component, request.component, sizeof info.component);
    if (::ioctl(fd, MILK_IOC_COMPONENT_INFO, &info) == 0 &&
        std::strncmp(info.contract, request.contract, sizeof info.contract) == 0)
        return Error{ErrorCode::InvalidArgument,
                     "the kernel component serves another version (identity) of the contract: detail is the "
                     "version it serves; rebuild both sides from one contract file",
                     info.version};
    return Error{ErrorCode::InvalidArgument, "the kernel component serves another contract", EPROTONOSUPPORT};
}

// Opens the device and asks `command` of it with `request`: the fd.
template <typename Request>
Result<int> open_with(unsigned long command, Request& request, const Options& options) {
    FdGuard fd(::open(options.device, O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return Error{ErrorCode::SystemError, "cannot open the milk device", errno};
    if (::ioctl(fd.get(), command, &request) != 0) {
        const int error = errno;
        if (error == ENOENT) return Error{ErrorCode::InvalidArgument, "milk.ko has no such component", error};
        if (error == EPROTONOSUPPORT) {
            if constexpr (std::is_same_v<Request, milk_channel_restore>) return protocol_refusal(fd.get(), request.open);
            else return protocol_refusal(fd.get(), request);
        }
        if (error == EOPNOTSUPP)
            return Error{ErrorCode::InvalidArgument, "the kernel component has no step, so it cannot be restored", error};
        if (error == EINVAL)
            return Error{ErrorCode::InvalidArgument,
                         "the kernel refused the channel's sizes or settings (or the component its settings or "
                         "snapshot)",
                         error};
        if (error == EAGAIN)
            return Error{ErrorCode::WouldBlock, "the kernel runs as many serving threads as it allows", error};
        if (error == ENOMEM) return Error{ErrorCode::OutOfMemory, "the kernel is out of memory for the channel", error};
        return Error{ErrorCode::SystemError, "opening a kernel channel failed", error};
    }
    return fd.hand_over();
}

}  // namespace

Result<int> open_channel_fd(std::string_view component, std::string_view contract, std::uint32_t version,
                            const Options& options) {
    milk_channel_open request = MILK_TRY(open_request(component, contract, version, options));
    return open_with(MILK_IOC_OPEN_CHANNEL, request, options);
}

Result<int> open_restored_channel_fd(std::string_view component, std::string_view contract, std::uint32_t version,
                                     std::span<const std::byte> snapshot, const Options& options) {
    if (snapshot.empty() || snapshot.size() > MILK_SNAPSHOT_MAX)
        return Error{ErrorCode::InvalidArgument, "a snapshot for the kernel is 1 byte to MILK_SNAPSHOT_MAX",
                     static_cast<std::int64_t>(snapshot.size())};
    milk_channel_restore request{};
    request.open = MILK_TRY(open_request(component, contract, version, options));
    request.snapshot = reinterpret_cast<std::uintptr_t>(snapshot.data());
    request.snapshot_bytes = static_cast<milk_u32>(snapshot.size());
    return open_with(MILK_IOC_OPEN_RESTORED, request, options);
}

Result<std::vector<std::byte>> park_channel(int fd) {
    std::vector<std::byte> snapshot(4096);
    for (;;) {
        milk_channel_park request{};
        request.snapshot = reinterpret_cast<std::uintptr_t>(snapshot.data());
        request.capacity = static_cast<milk_u32>(snapshot.size());
        if (::ioctl(fd, MILK_IOC_PARK, &request) == 0) {
            snapshot.resize(request.bytes);
            return snapshot;
        }
        const int error = errno;
        // Too small: parked all the same; again with the room it needs.
        if (error == ENOSPC && request.bytes > snapshot.size() && request.bytes <= MILK_SNAPSHOT_MAX) {
            snapshot.resize(request.bytes);
            continue;
        }
        if (error == EPIPE) return Error{ErrorCode::PeerClosed, "the kernel channel is closed or its session ended", error};
        if (error == EOPNOTSUPP)
            return Error{ErrorCode::InvalidArgument,
                         "this kernel channel cannot be parked (a serving thread runs it, or its component has no step)",
                         error};
        if (error == ENOSPC)
            return Error{ErrorCode::OutOfMemory, "the kernel component's snapshot is larger than MILK_SNAPSHOT_MAX",
                         request.bytes};
        return Error{ErrorCode::SystemError, "MILK_IOC_PARK failed", error};
    }
}

Result<void> resume_channel(int fd) {
    if (::ioctl(fd, MILK_IOC_RESUME, 0) < 0) {
        // A resume's kick that found a violation closed the channel: the
        // client learns why from its own end.
        if (errno == EPROTO || errno == EPIPE) return {};
        return Error{ErrorCode::SystemError, "MILK_IOC_RESUME failed", errno};
    }
    return {};
}

Result<void> retire_channel(int fd) {
    if (::ioctl(fd, MILK_IOC_RETIRE, 0) != 0) return Error{ErrorCode::SystemError, "MILK_IOC_RETIRE failed", errno};
    return {};
}

Result<ChannelEnd> adopt_channel(int fd, const Options& options) {
    return ChannelEnd(MILK_TRY(KernelTransport::try_adopt(fd, options)));
}

namespace {

Result<milk_trace> trace_request(std::string_view component, std::string_view instance, std::uint32_t command) {
    milk_trace request{};
    if (!put_name(request.component, component))
        return Error{ErrorCode::InvalidArgument, "component name empty or too long",
                     static_cast<std::int64_t>(component.size())};
    if (!put_name(request.instance, instance))
        return Error{ErrorCode::InvalidArgument, "instance name empty or too long",
                     static_cast<std::int64_t>(instance.size())};
    request.command = command;
    return request;
}

Error trace_error(int error) {
    switch (error) {
    case ENOENT: return Error{ErrorCode::InvalidArgument, "milk.ko has no such component, or no trace of the instance", error};
    case EALREADY: return Error{ErrorCode::InvalidArgument, "milk.ko traces the instance already", error};
    case EBUSY: return Error{ErrorCode::InvalidArgument, "milk.ko traces as many instances as it can", error};
    case ENOMEM: return Error{ErrorCode::OutOfMemory, "the kernel is out of memory for a trace", error};
    default: return Error{ErrorCode::SystemError, "MILK_IOC_TRACE failed", error};
    }
}

}  // namespace

Result<void> start_trace(std::string_view component, std::string_view instance, const char* device) {
    milk_trace request = MILK_TRY(trace_request(component, instance, MILK_TRACE_START));
    FdGuard fd(::open(device, O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return Error{ErrorCode::SystemError, "cannot open the milk device (is milk.ko loaded?)", errno};
    if (::ioctl(fd.get(), MILK_IOC_TRACE, &request) != 0) return trace_error(errno);
    return {};
}

Result<TraceRecords> stop_trace(std::string_view component, std::string_view instance, const char* device) {
    milk_trace request = MILK_TRY(trace_request(component, instance, MILK_TRACE_STOP));
    std::vector<milk_trace_record> raw(MILK_TRACE_RECORDS);
    request.capacity = MILK_TRACE_RECORDS;
    request.records = reinterpret_cast<std::uintptr_t>(raw.data());
    FdGuard fd(::open(device, O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return Error{ErrorCode::SystemError, "cannot open the milk device (is milk.ko loaded?)", errno};
    if (::ioctl(fd.get(), MILK_IOC_TRACE, &request) != 0) return trace_error(errno);
    TraceRecords out;
    out.dropped = request.dropped;
    const std::size_t count = std::min<std::size_t>(request.count, raw.size());
    out.records.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const milk_trace_record& record = raw[i];
        // Numbers from the kernel, kept as numbers: the host names the tag
        // and the states through bounds-checked tables.
        out.records.push_back(TraceRecord{record.time_ns, record.channel,
                                          static_cast<std::uint16_t>(record.tag > 0xffff ? 0 : record.tag),
                                          record.from_client != 0, record.state_before, record.state_after});
    }
    return out;
}

Result<ComponentInfo> component_info(std::string_view component, const char* device) {
    milk_component_info request{};
    if (!put_name(request.component, component))
        return Error{ErrorCode::InvalidArgument, "component name empty or too long",
                     static_cast<std::int64_t>(component.size())};
    FdGuard fd(::open(device, O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return Error{ErrorCode::SystemError, "cannot open the milk device (is milk.ko loaded?)", errno};
    if (::ioctl(fd.get(), MILK_IOC_COMPONENT_INFO, &request) != 0) {
        const int error = errno;
        if (error == ENOENT) return Error{ErrorCode::InvalidArgument, "milk.ko has no such component", error};
        return Error{ErrorCode::SystemError, "MILK_IOC_COMPONENT_INFO failed", error};
    }
    ComponentInfo info;
    info.contract = get_name(request.contract);
    info.version = request.version;
    info.hosting = request.hosting == MILK_HOSTING_THREAD ? Hosting::Thread : Hosting::PerMessage;
    info.channels = request.channels;
    info.messages = request.messages;
    return info;
}

Result<std::vector<ChannelEntry>> list_channels(std::string_view component, std::string_view instance,
                                                const char* device) {
    milk_channel_list request{};
    if (!put_name(request.component, component))
        return Error{ErrorCode::InvalidArgument, "component name empty or too long",
                     static_cast<std::int64_t>(component.size())};
    if (!instance.empty() && !put_name(request.instance, instance))
        return Error{ErrorCode::InvalidArgument, "instance name too long", static_cast<std::int64_t>(instance.size())};
    FdGuard fd(::open(device, O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) return Error{ErrorCode::SystemError, "cannot open the milk device (is milk.ko loaded?)", errno};
    // Channels come and go while we ask: ask again with room for what the
    // module counted, a few times, then take what fits.
    std::vector<milk_channel_entry> raw(16);
    for (int attempt = 0;; ++attempt) {
        request.capacity = static_cast<std::uint32_t>(raw.size());
        request.entries = reinterpret_cast<std::uintptr_t>(raw.data());
        if (::ioctl(fd.get(), MILK_IOC_LIST_CHANNELS, &request) != 0) {
            const int error = errno;
            if (error == ENOENT) return Error{ErrorCode::InvalidArgument, "milk.ko has no such component", error};
            return Error{ErrorCode::SystemError, "MILK_IOC_LIST_CHANNELS failed", error};
        }
        if (request.count <= raw.size() || raw.size() == MILK_LIST_CHANNELS_MAX || attempt == 3) break;
        raw.resize(std::min<std::size_t>(request.count + 16, MILK_LIST_CHANNELS_MAX));
    }
    std::vector<ChannelEntry> channels;
    const std::size_t written = std::min<std::size_t>(request.count, raw.size());
    channels.reserve(written);
    for (std::size_t i = 0; i < written; ++i) {
        const milk_channel_entry& entry = raw[i];
        ChannelEntry channel;
        channel.id = entry.id;
        channel.instance = get_name(entry.instance);
        channel.pid = entry.pid;
        channel.state = entry.state;
        channel.serving = entry.flags == MILK_CHANNEL_THREAD           ? Serving::Thread
                          : entry.flags == MILK_CHANNEL_POLLING_THREAD ? Serving::PollingThread
                                                                       : Serving::InKick;
        channel.closed = entry.closed != 0;
        channel.received = entry.received;
        channel.sent = entry.sent;
        channels.push_back(std::move(channel));
    }
    return channels;
}

}  // namespace milk::kernel
