// Wire layout of messages and structs.
//
// A message travels as one ring slot: an 8-byte header (tag, payload length)
// followed by the payload, laid out like a C struct of the message's fields in
// declaration order with natural alignment. The C++ emitter and the kernel C
// emitter both take offsets from here, so the two sides agree by construction;
// the generated code also static_asserts every offset.
#pragma once

#include "ast.hpp"

#include <cstdint>
#include <vector>

namespace milkc {

// Must match milk::slot_size / milk::slot_payload_size in userland/include/milk/slot.hpp.
inline constexpr std::uint32_t slot_size = 64;
inline constexpr std::uint32_t slot_header_size = 8;
inline constexpr std::uint32_t slot_payload_size = slot_size - slot_header_size;

// A `bytes` field on the wire: {u32 offset; u32 length} into the exchange heap.
inline constexpr std::uint32_t wire_bytes_size = 8;
inline constexpr std::uint32_t wire_bytes_align = 4;

struct TypeLayout {
    std::uint64_t size = 0;
    std::uint32_t align = 1;
};

struct FieldLayout {
    const Field* field = nullptr;
    std::uint64_t offset = 0;
    TypeLayout type;
};

struct RecordLayout {
    std::vector<FieldLayout> fields;
    std::uint64_t size = 0;  // including tail padding, like sizeof
    std::uint32_t align = 1;
};

// Preconditions: the type is resolved (checks ran) and not recursive.
[[nodiscard]] TypeLayout layout_of(PrimitiveKind kind);
[[nodiscard]] TypeLayout layout_of(const TypeRef& type);
[[nodiscard]] RecordLayout layout_of_fields(const std::vector<Field>& fields);
[[nodiscard]] inline RecordLayout layout_of(const StructDecl& decl) { return layout_of_fields(decl.fields); }
[[nodiscard]] inline RecordLayout layout_of(const MessageDecl& decl) { return layout_of_fields(decl.fields); }

}  // namespace milkc
