// Kernel-side components: what a component implements, what it may do to
// its channel, and how the registry names it.
//
// A component serves the server role of one contract. The channel
// (component_channel.hpp) hands it each message only after the contract's
// generated validator (milkc --emit kernel) accepted it against the protocol
// state the kernel tracks; the message is the kernel's private copy, typed as
// the stub's struct. The component answers through ChannelContext, which
// tracks its sends against the contract as well.
#pragma once

#include "kstub_common.hpp"
#include "owned.hpp"

#include <milk/deadline.hpp>
#include <milk/result.hpp>
#include <milk/slot.hpp>

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

class ChannelContext {
public:
    // The bytes behind a handle of a received message. The validator has
    // checked that it lies in user space's pool; the bytes are shared memory
    // user space may still be rewriting, so a component copies what it uses
    // once and never checks one read and uses another.
    [[nodiscard]] virtual std::span<const std::byte> received(const milk_kbytes& handle) const = 0;
    // Done with a received buffer: one of user space's goes home to its
    // pool (return ring 0); one of the kernel's own that user space handed
    // back is freed. Every received handle must be given back once.
    virtual void give_back(const milk_kbytes& handle) = 0;
    // A buffer of the kernel's pool, lent to user space once sent.
    [[nodiscard]] virtual Result<KernelBuffer> allocate(std::uint32_t bytes) = 0;
    // Publishes a reply: `payload` is the stub's struct for `tag` (or null
    // for a message without fields). The send is checked against the
    // contract's state machine; one reply per received message.
    [[nodiscard]] virtual Result<void> send(std::uint16_t tag, const void* payload, std::size_t payload_bytes) = 0;

    template <typename Payload>
    [[nodiscard]] Result<void> send(std::uint16_t tag, const Payload& payload) {
        return send(tag, &payload, sizeof(Payload));
    }

    // For components written against the generated C++ endpoints
    // (session_host.hpp), which decode the slot themselves:
    //
    // The next message, once the contract's validator and the channel have
    // accepted it: the kernel's one private copy of the slot, never the
    // ring's. Inline in a kick it is the message the kick is handling, once
    // (a second call is WouldBlock: the kick cannot wait for user space). In
    // a serving thread it waits for the next message until `deadline`
    // (TimedOut), the channel closes (the reason), or the file is released
    // (PeerClosed).
    [[nodiscard]] virtual Result<Slot> next_message(Deadline deadline) = 0;
    // Writable bytes behind a handle of a received message (a buffer the
    // component now owns may be rewritten in place and sent back).
    [[nodiscard]] virtual std::span<std::byte> owned_bytes(const milk_kbytes& handle) const = 0;
    // A buffer of the kernel's pool that the kernel HOLDS (not yet lent):
    // give_back frees it, hand_over lends it when it is sent.
    [[nodiscard]] virtual Result<KernelBuffer> allocate_held(std::uint32_t bytes) = 0;
    // A handle goes to user space in the reply being sent: a block of the
    // kernel's pool it holds becomes lent; one of user space's goes home in
    // the message itself. False for a kernel block the kernel does not hold.
    [[nodiscard]] virtual bool hand_over(const milk_kbytes& handle) = 0;

protected:
    ~ChannelContext() = default;
};

class Component {
public:
    virtual ~Component() = default;
    // `message` is the validated private copy: the contract's stub struct
    // (e.g. struct examples_pingpong_PingPong). An error closes the channel
    // and is reported to user space.
    [[nodiscard]] virtual Result<void> on_message(const void* message, ChannelContext& channel) = 0;
    // Serves the whole channel from a kernel thread: receives with
    // ChannelContext::next_message (which sleeps), sends as it likes, and
    // returns when its session ends or the channel closes. An error closes
    // the channel with it.
    [[nodiscard]] virtual Result<void> run(ChannelContext& channel) = 0;
};

// Where a component can run.
enum class Hosting : std::uint8_t {
    // One step per client message, so it can run inline in the kick (or in
    // a serving thread): the server never speaks first, and answers each
    // client message before it receives the next.
    PerMessage,
    // Only in a serving thread: the server speaks first, or receives more
    // than one message before it answers. A channel to it always gets a
    // thread (MILK_CHANNEL_THREAD when the client asked for none).
    Thread,
};

// One registered component: its contract, the contract's generated stub
// functions (wrapped to take the message as void*), and a factory.
struct ContractEntry {
    const char* contract;  // "package.Contract", as user space names it
    std::uint32_t version;
    void (*init)(milk_kstate* state, milk_kside side);
    int (*validate)(milk_kstate* state, const void* slot, const milk_kpool* pool, void* message,
                    milk_kviolation* violation);
    int (*on_send)(milk_kstate* state, milk_ku32 tag);
    milk_ku32 (*payload_size)(milk_ku32 tag);
    // The `bytes` fields of a validated message from the client, written
    // to `out` (room for max_handles_per_message); returns how many. The
    // channel checks those in the kernel's own pool (hand-backs) against its
    // record of what it lent; the validator checks only the bounds.
    std::size_t (*handles)(const void* message, milk_kbytes* out);
    milk_ku32 end_state;
    // The contract's transition function and message count, to tell after
    // each message whether the client may speak again (a component must
    // have sent every reply its contract requires).
    int (*step)(milk_ku32 state, milk_ku32 sender, milk_ku32 tag, milk_ku32* next);
    milk_ku32 tag_count;
    Result<Owned<Component>> (*create)();
    Hosting hosting;
};

// The most `bytes` fields a registered contract's client message has.
inline constexpr std::size_t max_handles_per_message = 4;

// The registry (registry.cpp): the entry for `contract`, or null.
[[nodiscard]] const ContractEntry* find_component(const char* contract);

// Every component's entry, defined next to the component.
extern const ContractEntry pingpong_echo_entry;
extern const ContractEntry file_server_entry;
extern const ContractEntry tally_entry;

}  // namespace milk::kernel
