// milk::Buffer: an owned region of a channel's exchange heap, the C++ side of
// a contract's `bytes` field.
//
// A buffer has exactly one owner at a time. It is move-only; sending it in a
// message moves it to the peer without copying a byte (the receiver's Buffer
// points at the same memory). Touching a moved-from buffer aborts with
// "milk: use of a moved-from Buffer: <operation>". Destroying a buffer returns
// its memory to the pool of the side that allocated it, through the channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lifetimebound.hpp"
#include "typestate.hpp"

namespace milk {

class Buffer;
class BufferHome;

// How a buffer refers to its home: a plain pointer, in user space and in a
// freestanding build (MILK_FREESTANDING: milk.ko) alike, so that making,
// moving and dropping a buffer costs no reference-count atomics. The home
// outlives every buffer that points at it by its own means: in user space the
// exchange heap side (exchange_heap.hpp) knows which blocks its buffers hold
// and, once its channel is gone, destroys itself when the last one is
// dropped; in the module the kernel component's host is destroyed only after
// the component, its endpoints and all its buffers
// (kernel-stubs/core/session_host.hpp).
using BufferHomeRef = BufferHome*;

// The side of an exchange heap a buffer came from; implemented by each
// transport. Releasing may happen on any thread and after the channel closed,
// so implementations are thread-safe and stay alive while any buffer of theirs
// does (see BufferHomeRef).
class BufferHome {
public:
    virtual ~BufferHome() = default;
    // Gives the region back to the pool that allocated it. `length` is the
    // length the buffer had when it was made (before any truncate()).
    virtual void release(std::uint32_t offset, std::uint32_t length) noexcept = 0;

protected:
    // What a buffer held, taken out of it by detach().
    struct Detached {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;    // visible length (after truncate)
        std::uint32_t capacity = 0;  // length when made
    };

    // Whether `buffer` came from this home. Transports use it to refuse a
    // buffer of another channel.
    [[nodiscard]] bool is_home_of(const Buffer& buffer) const noexcept;

    // Empties `buffer` WITHOUT releasing its region: the region now travels
    // to the peer. Only a transport (a BufferHome) may do this; there is
    // deliberately no public way to take a region out of a Buffer.
    [[nodiscard]] static Detached detach(Buffer&& buffer) noexcept;
};

// Typestate (-Wconsumed, typestate.hpp): a move makes the source "consumed",
// and the accessors below may not be called on it; assigning a buffer to it
// makes it usable again. They may be called in the "unknown" state (a buffer
// passed by reference, or returned by a function): -Wconsumed then reports
// only what is certainly a use after move, never a correct use.
class [[nodiscard]] MILK_CONSUMABLE(unconsumed) Buffer {
public:
    // An empty buffer (as if moved-from). Exists so that messages can be
    // default-constructed before their fields are filled in.
    Buffer() = default;
    Buffer(BufferHomeRef home, std::byte* data, std::uint32_t offset, std::uint32_t length);

    Buffer(Buffer&& other MILK_RETURN_TYPESTATE(consumed)) noexcept;
    MILK_SET_TYPESTATE(unconsumed) Buffer& operator=(Buffer&& other MILK_RETURN_TYPESTATE(consumed)) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    // Preconditions for all of these: the buffer was not moved from
    // (otherwise they abort with "milk: use of a moved-from Buffer: <name>").
    //
    // data() and bytes() point into the buffer: MILK_LIFETIMEBOUND lets
    // clang warn when the pointer outlives a temporary buffer (or a
    // temporary message or Result holding it). C++ cannot see a pointer kept
    // past the send of a named buffer; docs/verification.md says what stays
    // unchecked.
    MILK_CALLABLE_WHEN("unconsumed", "unknown") [[nodiscard]] std::byte* data() const MILK_LIFETIMEBOUND;
    MILK_CALLABLE_WHEN("unconsumed", "unknown") [[nodiscard]] std::size_t size() const;
    MILK_CALLABLE_WHEN("unconsumed", "unknown") [[nodiscard]] std::span<std::byte> bytes() const MILK_LIFETIMEBOUND;
    // The region's place in the exchange heap; transports put it on the wire.
    MILK_CALLABLE_WHEN("unconsumed", "unknown") [[nodiscard]] std::uint32_t heap_offset() const;

    // True unless moved from (or default-constructed).
    [[nodiscard]] bool valid() const { return m_data != nullptr; }

    // Shrinks the visible length (a buffer allocated for 4 KiB that holds
    // 100 bytes). Precondition: length <= size(); aborts otherwise.
    MILK_CALLABLE_WHEN("unconsumed", "unknown") void truncate(std::size_t length);

private:
    friend class BufferHome;

    void require_valid(const char* operation) const;
    void reset() noexcept;

    BufferHomeRef m_home = nullptr;
    std::byte* m_data = nullptr;
    std::uint32_t m_offset = 0;
    std::uint32_t m_length = 0;
    std::uint32_t m_capacity = 0;
};

}  // namespace milk
