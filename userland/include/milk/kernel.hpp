// The `kernel` transport: a channel between this process and a component
// that runs inside milk.ko.
//
//   namespace PingPong = examples::pingpong::PingPong;
//   auto end = milk::kernel::open_channel<PingPong::Contract>("echo");
//   auto client = PingPong::Contract::client(std::move(end).value());
//
// /dev/milk creates the channel (MILK_IOC_OPEN_CHANNEL, to a component by
// name, checking the contract and version the client speaks, with the
// instance's milk::Settings) and this process maps its region: the runtime's own
// ChannelRegionLayout, with the kernel as side Second. The data path is an
// unchanged RegionTransport as side First; what differs is only how the
// peer is woken and waited for. The kernel does not sleep on the region's
// futex words: a send is followed by MILK_IOC_KICK (the doorbell, which runs
// the component on what was sent), and a receive that finds nothing spins
// for the budget and then sleeps in poll() on the fd, which the kernel wakes
// when it publishes or closes.
//
// Trust runs the other way too: the kernel validates every message with the
// contract's generated validator and closes the channel on the first
// violation; the next send or receive here then fails with the reason
// (ProtocolViolation, BadBuffer, CorruptRing), and error_text() says more.
#pragma once

#include "channel.hpp"
#include "component.hpp"
#include "region.hpp"
#include "region_layout.hpp"
#include "region_transport.hpp"
#include "result.hpp"
#include "transport.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

// The ABI's settings table (milk_uapi.h).
struct milk_settings;
// io_uring's submission entry (linux/io_uring.h).
struct io_uring_sqe;

namespace milk::kernel {

// Who runs the kernel's component.
enum class Serving : std::uint8_t {
    // Inline in MILK_IOC_KICK, in this process's context: a round trip is
    // one system call, and nothing in the kernel runs between them.
    InKick,
    // A kernel thread of the channel runs the component and sleeps on a
    // wait queue whenever its receive finds nothing: a send kicks only when
    // the thread announced that it sleeps, and a receive here sleeps in
    // poll() until the thread wakes it. Any component can run this way,
    // including one that speaks first or receives several messages per
    // reply (such a component always gets a thread).
    Thread,
    // The same thread, but it polls the ring for a while after each message
    // before it sleeps, on another CPU than the one that opened the
    // channel: while it is awake, a round trip needs no system call at all
    // (both sides poll).
    PollingThread,
};

// Who rings the doorbell of a channel served in the kick (Serving::InKick).
enum class Kick : std::uint8_t {
    // Every send kicks (MILK_IOC_KICK) and returns with the kernel's replies
    // in the ring; a receive kicks again for what the kernel left.
    OnSend,
    // Sends only publish; the caller kicks when it chooses, typically as an
    // io_uring command in the same submission as its other I/O
    // (prepare_kick_sqe), and a receive waits for the replies that kick
    // brings without kicking itself. A send finding the ring full of
    // messages the kernel has not taken fails with WouldBlock. A channel
    // the kernel serves with a thread ignores this: its thread drains the
    // ring and sends wake it as usual.
    ByCaller,
};

struct Options {
    // Slots per direction: a power of two in [2, 4096].
    std::uint32_t ring_capacity = 64;
    // Exchange-heap bytes per side: a power of two in [4 KiB, 1 MiB].
    std::uint32_t pool_bytes = 256 * 1024;
    // How long a receive spins on the ring before it sleeps in poll().
    std::chrono::nanoseconds spin_budget = std::chrono::microseconds(10);
    Serving serving = Serving::InKick;
    Kick kick = Kick::OnSend;
    // The device; tests point it elsewhere to check the error path.
    const char* device = "/dev/milk";
    // The instance's settings: the kernel builds the component for this
    // channel with try_create(settings), as user space would.
    Settings settings;
    // The host's name for the instance the channel serves (1-63 bytes of
    // [a-z0-9_-]), or empty: the module lists channels by it
    // (list_channels).
    std::string instance;
};

// How milk.ko hosts a component (MILK_IOC_COMPONENT_INFO).
enum class Hosting : std::uint8_t {
    // A step per message: inline in the doorbell unless a thread is asked for.
    PerMessage,
    // Always in a serving thread of its channel.
    Thread,
};

// A component compiled into milk.ko.
struct ComponentInfo {
    std::string contract;  // "examples.pingpong.PingPong"
    std::uint32_t version = 0;
    Hosting hosting = Hosting::PerMessage;
    // Its channels open now, in every process.
    std::uint32_t channels = 0;
    // The module's own count of the messages it accepted from user space on
    // this component's channels since it was loaded: proof that the
    // component really ran in the kernel.
    std::uint64_t messages = 0;
};

// One open channel of a component, as milk.ko reports it
// (MILK_IOC_LIST_CHANNELS): numbers the module keeps for itself.
struct ChannelEntry {
    std::uint64_t id = 0;    // unique since the module was loaded
    std::string instance;    // as opened ("" for none)
    pid_t pid = 0;           // the process that opened it
    std::uint32_t state = 0; // the protocol state the kernel tracks, in the contract's numbering
    Serving serving = Serving::InKick;
    bool closed = false;     // the kernel side is closed (the fd is still open)
    std::uint64_t received = 0;  // messages accepted from user space
    std::uint64_t sent = 0;      // messages the component sent
};

class KernelTransport final : public Transport {
    struct PassKey {
        explicit PassKey() = default;
    };

public:
    // Opens the device, creates the channel to the component `component`,
    // which must serve `contract` at `version` (its identity,
    // Contract::version), maps it and attaches side First. Errors:
    // InvalidArgument (no such component: detail ENOENT; it serves another
    // contract: EPROTONOSUPPORT; another version of it: detail is the
    // version it serves; bad options or
    // settings, or the component refused its settings: EINVAL),
    // SystemError (the device is missing: detail = errno).
    [[nodiscard]] static Result<std::unique_ptr<KernelTransport>> try_open(std::string_view component,
                                                                           std::string_view contract,
                                                                           std::uint32_t version,
                                                                           const Options& options);
    // Takes over `fd`, a /dev/milk fd holding a channel that another
    // process opened and handed over (SCM_RIGHTS) without using it: asks
    // the kernel for the channel's geometry (MILK_IOC_CHANNEL_INFO), maps
    // it and attaches side First. Only options.spin_budget is used. The fd
    // is closed on failure too.
    [[nodiscard]] static Result<std::unique_ptr<KernelTransport>> try_adopt(int fd, const Options& options);

    KernelTransport(PassKey, int fd, std::unique_ptr<RegionTransport> inner, std::shared_ptr<Region> region,
                    const ChannelRegionLayout& layout, const Options& options, Serving granted);
    KernelTransport(const KernelTransport&) = delete;
    KernelTransport& operator=(const KernelTransport&) = delete;
    ~KernelTransport() override;

    [[nodiscard]] Result<void> send(const Slot& slot) override;
    [[nodiscard]] Result<void> send_batch(std::span<const Slot> slots) override;
    [[nodiscard]] Result<Slot> receive(Deadline deadline) override;
    [[nodiscard]] Result<void> wait_for_room(std::size_t slots, Deadline deadline) override;
    [[nodiscard]] Result<Buffer> allocate(std::size_t size) override;
    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer) override;
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire) override;
    void close(const Error* reason) noexcept override;
    // What the kernel did not take, for a move (the channel is parked).
    [[nodiscard]] Result<std::size_t> unreceived(std::span<Slot> out) override { return m_inner->unreceived(out); }

    // The fd of /dev/milk that holds the channel (-1 once closed).
    [[nodiscard]] int fd() const { return m_fd; }
    // Who runs the component: what was asked for, or Thread if the
    // component needs one.
    [[nodiscard]] Serving serving() const { return m_serving; }
    // The component and contract of the channel, as the kernel reports them.
    [[nodiscard]] const std::string& component() const { return m_component; }
    [[nodiscard]] const std::string& contract() const { return m_contract; }
    // Why the kernel closed the channel, in words ("examples.pingpong.PingPong:
    // tag not allowed in state Waiting (message Ping, field -)"); empty while
    // it is open.
    [[nodiscard]] std::string error_text() const;

private:
    // The doorbell: the kernel takes what we sent. The number taken, or the
    // reason the kernel closed the channel.
    [[nodiscard]] Result<std::uint32_t> kick();
    [[nodiscard]] Error kernel_close_error() const;
    // Thread, PollingThread: after publishing, wake the kernel's thread if
    // (and only if) it announced that it sleeps.
    [[nodiscard]] Result<void> ring_thread();
    // Kick::ByCaller: publishes all of `slots` or none, without kicking.
    [[nodiscard]] Result<void> publish_for_caller(std::span<const Slot> slots);

    int m_fd;
    std::string m_component;
    std::string m_contract;
    std::unique_ptr<RegionTransport> m_inner;
    std::shared_ptr<Region> m_region;
    ChannelRegionLayout m_layout;
    std::chrono::nanoseconds m_spin_budget;
    Serving m_serving;
    Kick m_kick;
    // A deadline in the past: the inner transport's receive then only polls.
    Deadline m_already_passed = Deadline::now();
    // Messages in the ring that the kernel has not taken yet: sends never
    // push more than the ring holds, so a send never waits on a kernel that
    // only runs when kicked.
    std::uint32_t m_untaken = 0;
    // The last failed kick found the channel closed already (EPIPE), not
    // closed by what it took (EPROTO).
    bool m_kick_found_closed = false;
    bool m_closed = false;
};

// Fills `sqe` with the doorbell of the channel on `channel_fd` (a
// KernelTransport's fd()) as an io_uring command: IORING_OP_URING_CMD with
// cmd_op MILK_URING_KICK (ABI 8). Its completion's res is the number of
// messages the kernel took, or -ENODEV, -EPROTO, -EPIPE as MILK_IOC_KICK's
// errno; the next receive on the channel reports a close. `user_data` is
// the caller's, for telling the completion apart.
void prepare_kick_sqe(::io_uring_sqe& sqe, int channel_fd, std::uint64_t user_data);

// The channel end of a new channel to the kernel component `component`
// (its name in components/CMakeLists.txt), which must serve `contract` at
// `version`, for the contract's generated `client(ChannelEnd&&)`.
// `settings` as milk.ko takes them (MILK_IOC_OPEN_CHANNEL and
// MILK_IOC_SCHED_CREATE): the table is written whole.
[[nodiscard]] Result<void> to_settings_table(const Settings& settings, ::milk_settings& table);

[[nodiscard]] Result<ChannelEnd> open_channel(std::string_view component, std::string_view contract,
                                              std::uint32_t version, const Options& options = {});

// The same for a generated Contract type (Contract::name, Contract::version).
template <typename Contract>
[[nodiscard]] Result<ChannelEnd> open_channel(std::string_view component, const Options& options = {}) {
    return open_channel(component, Contract::name, Contract::version, options);
}

// A /dev/milk fd holding a new channel to `component`, neither mapped nor
// used: for a process (milkd) that opens kernel channels for others and
// hands the fd over (SCM_RIGHTS); the receiver calls adopt_channel. The
// caller owns the fd. Errors as KernelTransport::try_open's.
[[nodiscard]] Result<int> open_channel_fd(std::string_view component, std::string_view contract,
                                          std::uint32_t version, const Options& options = {});

// Live relocation (docs/relocation.md, "The kernel placement"): what the
// host asks of the channels of a kernel instance it moves, on a duplicate of
// the channel's fd that it keeps (the client maps and kicks its own).
//
// The same as open_channel_fd, with the component restored from
// `snapshot` (MILK_IOC_OPEN_RESTORED): a snapshot written by any placement.
// InvalidArgument when the component cannot read it (the kernel log says
// why) or has no step (detail EOPNOTSUPP).
[[nodiscard]] Result<int> open_restored_channel_fd(std::string_view component, std::string_view contract,
                                                   std::uint32_t version, std::span<const std::byte> snapshot,
                                                   const Options& options = {});
// Stops the channel between two kicks and returns the component's snapshot
// (MILK_IOC_PARK): the client's later messages stay in the ring.
// PeerClosed when the channel closed or its session ended; InvalidArgument
// with detail EOPNOTSUPP when it cannot be parked (a serving thread, or a
// component without a step).
[[nodiscard]] Result<std::vector<std::byte>> park_channel(int fd);
// Back into service where it was (MILK_IOC_RESUME).
[[nodiscard]] Result<void> resume_channel(int fd);
// Closed because the component moved on (MILK_IOC_RETIRE): the client's end
// reads PeerClosed with moved_close_detail.
[[nodiscard]] Result<void> retire_channel(int fd);

// Tracing an instance's kernel channels (MILK_IOC_TRACE; docs/relocation.md,
// "Tracing"): every message the channels opened with the instance's name
// take and send, from start_trace until stop_trace.
struct TraceRecord {
    std::uint64_t time_ns = 0;  // CLOCK_MONOTONIC
    std::uint64_t channel = 0;  // the channel's id (ChannelEntry::id)
    std::uint16_t tag = 0;
    bool from_client = false;
    std::uint32_t state_before = 0;  // the contract's numbering
    std::uint32_t state_after = 0;
};
struct TraceRecords {
    std::vector<TraceRecord> records;  // oldest first
    std::uint64_t dropped = 0;
};
// InvalidArgument: no such component (detail ENOENT), a trace of the
// instance runs already (EALREADY), every trace session is in use (EBUSY);
// SystemError when the device cannot be opened.
[[nodiscard]] Result<void> start_trace(std::string_view component, std::string_view instance,
                                       const char* device = "/dev/milk");
[[nodiscard]] Result<TraceRecords> stop_trace(std::string_view component, std::string_view instance,
                                              const char* device = "/dev/milk");

// What milk.ko says about the component `component`. Errors: SystemError
// when the device cannot be opened (milk.ko not loaded: detail = errno, e.g.
// ENOENT), InvalidArgument with detail ENOENT when the module has no such
// component.
[[nodiscard]] Result<ComponentInfo> component_info(std::string_view component, const char* device = "/dev/milk");

// The open channels of `component` in milk.ko, oldest first: every one, or
// only those opened for `instance` when it is not empty. Errors as
// component_info's.
[[nodiscard]] Result<std::vector<ChannelEntry>> list_channels(std::string_view component, std::string_view instance = {},
                                                              const char* device = "/dev/milk");

// The channel end of a kernel channel whose fd another process opened and
// handed to this one (milkd opens kernel channels for its clients): see
// KernelTransport::try_adopt. Takes ownership of `fd`.
[[nodiscard]] Result<ChannelEnd> adopt_channel(int fd, const Options& options = {});

}  // namespace milk::kernel
