// Kernel-side components: what runs a component on a channel, what it may do
// to its channel, and how the registry names it.
//
// A component is a milk::Component (userland/include/milk/component.hpp),
// the same source as in user space. component_entry.hpp wraps its type and
// its contract's generated descriptor (milk_kcontract, from the .kstub.h)
// into a ComponentEntry; milkc --emit kernel-registry generates the array of
// them (milk_components.cpp) from the one list of components
// (components/CMakeLists.txt). The channel (component_channel.hpp) hands the
// component each message only after the contract's generated validator
// accepted it against the protocol state the kernel tracks, and checks the
// component's sends against the contract as well.
#pragma once

#include "kstub_common.hpp"
#include "owned.hpp"

#include <milk/component.hpp>
#include <milk/deadline.hpp>
#include <milk/result.hpp>
#include <milk/slot.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace milk::kernel {

// A buffer of the kernel's own pool, just allocated: `handle` goes into the
// message that sends it, `bytes` is where to write its contents.
struct KernelBuffer {
    milk_kbytes handle;
    std::span<std::byte> bytes;
};

// What a component's generated endpoints (session_host.hpp) use of their
// channel.
class ChannelContext {
public:
    // Done with a received buffer: one of user space's goes home to its
    // pool (return ring 0); one of the kernel's own that user space handed
    // back is freed. Every received handle must be given back once.
    virtual void give_back(const milk_kbytes& handle) = 0;
    // Publishes a message: `payload` is `payload_bytes` of the slot's
    // payload for `tag`. The send is checked against the contract's state
    // machine; inline in a kick, one reply per received message.
    [[nodiscard]] virtual Result<void> send(std::uint16_t tag, const void* payload, std::size_t payload_bytes) = 0;
    // Waits until `slots` replies fit in the reply ring (the deadline of a
    // send): inline in a kick the one reply's room was reserved before the
    // message was taken; a serving thread waits until user space takes
    // replies, closes (PeerClosed), the file is released (PeerClosed) or
    // the deadline passes (TimedOut).
    [[nodiscard]] virtual Result<void> wait_for_room(std::size_t slots, Deadline deadline) = 0;
    // The next message, once the contract's validator and the channel have
    // accepted it: the kernel's one private copy of the slot, never the
    // ring's. Inline in a kick it is the message the kick is handling, once
    // (a second call is WouldBlock: the kick cannot wait for user space). In
    // a serving thread it waits for the next message until `deadline`
    // (TimedOut), the channel closes (the reason), or the file is released
    // (PeerClosed).
    [[nodiscard]] virtual Result<Slot> next_message(Deadline deadline) = 0;
    // Writable bytes behind a handle of a received message (a buffer the
    // component now owns may be rewritten in place and sent back). The
    // validator has checked that it lies in the pools; the bytes are shared
    // memory user space may still be rewriting.
    [[nodiscard]] virtual std::span<std::byte> owned_bytes(const milk_kbytes& handle) const = 0;
    // A buffer of the kernel's pool that the kernel HOLDS (not yet lent):
    // give_back frees it, hand_over lends it when it is sent.
    [[nodiscard]] virtual Result<KernelBuffer> allocate_held(std::uint32_t bytes) = 0;
    // A handle goes to user space in the message being sent: a block of the
    // kernel's pool it holds becomes lent; one of user space's goes home in
    // the message itself. False for a kernel block the kernel does not hold.
    [[nodiscard]] virtual bool hand_over(const milk_kbytes& handle) = 0;

protected:
    ~ChannelContext() = default;
};

// Runs one component object on one channel (component_entry.hpp).
class ComponentRunner {
public:
    virtual ~ComponentRunner() = default;
    // Inline in a kick: one step on the one message the kick took (the
    // component receives it through ChannelContext::next_message). An error
    // closes the channel and is reported to user space.
    [[nodiscard]] virtual Result<void> on_message(ChannelContext& channel) = 0;
    // Serves the whole channel from a kernel thread: receives with
    // ChannelContext::next_message (which sleeps), sends as it likes, and
    // returns when its session ends or the channel closes. An error closes
    // the channel with it.
    [[nodiscard]] virtual Result<void> run(ChannelContext& channel) = 0;
    // The component's snapshot (milk/snapshot.hpp) into `buffer`, between
    // two steps: its size, or OutOfMemory with the bytes it needs. A
    // component without a step cannot be cut between messages: InvalidArgument.
    [[nodiscard]] virtual Result<std::size_t> snapshot(std::span<std::byte> buffer) const = 0;
};

// Where a component runs.
enum class Hosting : std::uint8_t {
    // One step per client message, so it can run inline in the kick (or in
    // a serving thread): its contract is per-message (milk_kcontract) and
    // the component has a step.
    PerMessage,
    // Only in a serving thread: the contract lets the server speak first or
    // receive more than one message before it answers, or the component has
    // only a serve function. A channel to it always gets a thread
    // (MILK_CHANNEL_THREAD when the client asked for none).
    Thread,
};

// A decision of a policy that the scheduler mechanism calls directly, in
// contracts/sched.contract's numbering (`cpu` is the policy's CPU index).
struct DirectDecision {
    std::uint8_t kind;
    std::uint16_t cpu;
    std::uint32_t task;
};

// A scheduler policy in the module that milk.ko's scheduler mechanism calls
// directly, without a channel (MILK_IOC_SCHED_CREATE naming a policy): the
// component's own books, fed the module's events one batch at a time.
class DirectSchedPolicy {
public:
    virtual ~DirectSchedPolicy() = default;
    // One event, in contracts/sched.contract's kinds. An error means the
    // policy refuses it (the event breaks its books): the enclave falls back.
    [[nodiscard]] virtual Result<void> event(std::uint8_t kind, std::uint16_t cpu, std::uint32_t task,
                                             std::uint32_t weight, std::uint64_t now) = 0;
    // The batch's decisions: at most `capacity` into `out`; how many.
    [[nodiscard]] virtual std::size_t decide(DirectDecision* out, std::size_t capacity) = 0;
};

// A decision of a memory policy that the memory mechanism calls directly,
// in contracts/mem.contract's numbering.
struct DirectMemDecision {
    std::uint8_t kind;
    std::uint32_t page;
    std::uint32_t frame;
};

// A memory manager policy in the module that milk.ko's fault handler calls
// directly, without a channel (MILK_IOC_MEM_CREATE naming one, and the
// FIFO every region falls back to): the component's own books, fed one
// batch of events at a time.
class DirectMemPolicy {
public:
    virtual ~DirectMemPolicy() = default;
    // One event, in contracts/mem.contract's kinds. An error means the
    // policy refuses it (it breaks the policy's books): the region falls back.
    [[nodiscard]] virtual Result<void> event(std::uint8_t kind, std::uint32_t page, std::uint32_t count,
                                             std::uint64_t now) = 0;
    // The batch's decisions, evictions first: at most `capacity` into `out`;
    // how many there were (more than `capacity`: some were lost, and the
    // caller must not trust the policy any more).
    [[nodiscard]] virtual std::size_t decide(DirectMemDecision* out, std::size_t capacity) = 0;
};

// A block service in the module that milk.ko's block device calls directly,
// without a channel (MILK_IOC_BLK_CREATE naming one): the component's own
// store. Offsets and lengths are in bytes, multiples of 512 and inside the
// device: the device checks them before it calls.
class DirectBlkService {
public:
    virtual ~DirectBlkService() = default;
    [[nodiscard]] virtual std::uint64_t blocks() const = 0;
    [[nodiscard]] virtual std::uint32_t block_size() const = 0;
    [[nodiscard]] virtual Result<void> read(std::uint64_t offset, std::span<std::byte> into) = 0;
    [[nodiscard]] virtual Result<void> write(std::uint64_t offset, std::span<const std::byte> from) = 0;
    [[nodiscard]] virtual Result<void> flush() = 0;
    [[nodiscard]] virtual Result<void> discard(std::uint64_t offset, std::uint64_t bytes) = 0;
};

// One component compiled into the module (component_entry() makes it).
struct ComponentEntry {
    const char* name;                 // what MILK_IOC_OPEN_CHANNEL names: "echo"
    const milk_kcontract* contract;  // its contract's generated descriptor
    Hosting hosting;
    // The component object for one channel, built from the instance's settings.
    Result<Owned<ComponentRunner>> (*create)(const Settings& settings);
    // The same, restored from a snapshot another placement wrote (untrusted:
    // every read is checked); null for a component without a step, which
    // cannot move.
    Result<Owned<ComponentRunner>> (*restore)(const Settings& settings, std::span<const std::byte> snapshot);
    // For a scheduler policy: its books for an enclave of `cpus` CPUs and
    // `max_tasks` tasks, which the scheduler mechanism calls directly;
    // null for every other component.
    Result<Owned<DirectSchedPolicy>> (*create_direct_sched)(const Settings& settings, std::uint32_t cpus,
                                                           std::uint32_t max_tasks);
    // For a memory manager: its books for a region of `pages` pages and
    // `frames` frames, which the memory mechanism calls directly; null for
    // every other component.
    Result<Owned<DirectMemPolicy>> (*create_direct_mem)(const Settings& settings, std::uint32_t pages,
                                                       std::uint32_t frames);
    // For a block service: its store, which the block device calls
    // directly; null for every other component.
    Result<Owned<DirectBlkService>> (*create_direct_blk)(const Settings& settings);
};

// The module's own counts of a component's use (MILK_IOC_COMPONENT_INFO).
struct ComponentStats {
    std::atomic<std::uint32_t> channels{0};
    std::atomic<std::uint64_t> messages{0};
};

// The most `bytes` fields one client message may have (a contract with more
// is refused at compile time by component_entry()).
inline constexpr std::size_t max_handles_per_message = 4;
// The most components the module has room to count.
inline constexpr std::size_t max_components = 64;

// String equality, at compile time too (the generated registry checks that a
// component's C++ contract is the one its descriptor names).
constexpr bool same_text(const char* a, const char* b) {
    for (;; ++a, ++b) {
        if (*a != *b) return false;
        if (*a == '\0') return true;
    }
}

// The registry, generated (milk_components.cpp).
[[nodiscard]] std::span<const ComponentEntry> compiled_components();

struct FoundComponent {
    const ComponentEntry* entry = nullptr;
    ComponentStats* stats = nullptr;
};
// The component named `name` (component_registry.cpp); entry null if none.
[[nodiscard]] FoundComponent find_component(const char* name);

}  // namespace milk::kernel
