// A contract's identity: a hash of its normalized form.
//
// Two programs speak the same contract exactly when they were generated from
// the same protocol: the same messages with the same tags and wire layouts,
// the same states in the same order, the same transitions. The normalized
// form writes down exactly that, one line per declaration, with every named
// type a message uses written out in full (an enum's members and values, a
// struct's fields), and nothing else: no comments, no layout of the source,
// no declarations the contract does not use. Its identity is a 32-bit hash
// of that text (FNV-1a, 64 bits folded to 32; never 0, which means "none").
//
// milkc emits the identity as Contract::version (C++) and as the kernel
// descriptor's version, and every place that opens a channel by contract
// compares it: the host, milkd, and milk.ko (docs/contract-language.md,
// "Identity and evolution").
#pragma once

#include "ast.hpp"

#include <cstdint>
#include <string>

namespace milkc {

// The normalized form of a checked contract of `file` (docs/contract-language.md
// shows one).
[[nodiscard]] std::string normalized_form(const File& file, const ContractDecl& contract);

// The hash of normalized_form(); never 0.
[[nodiscard]] std::uint32_t contract_identity(const File& file, const ContractDecl& contract);

// "0x1a2b3c4d": how milkc and the runtime print an identity.
[[nodiscard]] std::string identity_string(std::uint32_t identity);

}  // namespace milkc
