// The unit a ring carries: one 64-byte, cache-line-aligned slot.
//
// Layout (shared with kernel-stubs and with milkc's codegen/layout.hpp):
//   offset 0  u16 tag     message tag, 1-based; 0 is never valid
//   offset 2  u16 length  bytes of payload in use
//   offset 4  u32 flags   reserved, must be zero
//   offset 8  payload     the message's fields, C layout, natural alignment
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace milk {

inline constexpr std::size_t slot_size = 64;
inline constexpr std::size_t slot_header_size = 8;
inline constexpr std::size_t slot_payload_size = slot_size - slot_header_size;

struct alignas(64) Slot {
    std::uint16_t tag = 0;
    std::uint16_t length = 0;
    std::uint32_t flags = 0;
    std::byte payload[slot_payload_size] = {};

    // Copies a scalar field into the payload at `offset` (as laid out by milkc).
    template <typename T>
    void put(std::size_t offset, const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        std::memcpy(payload + offset, &value, sizeof(T));
    }
    // Copies a scalar field out of the payload. Copying (never a reference
    // into the slot) matters: across a trust boundary the peer may rewrite
    // the slot while we look at it, so every value is read exactly once.
    template <typename T>
    [[nodiscard]] T get(std::size_t offset) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        std::memcpy(&value, payload + offset, sizeof(T));
        return value;
    }
};
static_assert(sizeof(Slot) == slot_size);

// A `bytes` field on the wire: a region of the channel's exchange heap.
struct WireBytes {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
};
static_assert(sizeof(WireBytes) == 8);

}  // namespace milk
