// The leaf fields of a message: every scalar, bool, enum and `bytes` value
// of its payload, with nested structs and fixed arrays unrolled, each with
// its offset in the payload. The kernel emitter prints them as a table in
// every stub header (milk_kmessage), so that a tool can build, read or mutate
// a contract's messages knowing only its descriptor: the contract-driven
// hostile peer (tests/hostile/) is the first.
#pragma once

#include "ast.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace milkc {

enum class LeafKind : std::uint8_t { Unsigned, Signed, Bool, Enum, Bytes, Float };

struct LeafField {
    std::string path;              // "where.mode", "items[2].ok"
    std::uint64_t offset = 0;      // from the start of the payload
    std::uint32_t size = 0;        // 1, 2, 4 or 8
    LeafKind kind = LeafKind::Unsigned;
    const EnumDecl* enum_decl = nullptr;  // LeafKind::Enum
};

// Precondition: the message passed the checks (names resolved, layout fits
// the slot), so that a payload has at most slot_payload_size leaves.
[[nodiscard]] std::vector<LeafField> leaf_fields(const MessageDecl& message);

}  // namespace milkc
