// The sizes milkc accepts, chosen so that every contract it accepts yields
// code that compiles, quickly, with the compilers the project supports.
//
// Without them a contract of a few kilobytes could ask for a header g++
// cannot compile (1,000 array dimensions exceed its template depth) or one of
// tens of megabytes (thousands of states and transitions, each an endpoint
// class and an entry of the Boost.Hana protocol table). The test
// `milkc.scale.at-limits` (tests/codegen/scale_contracts.cpp) generates a
// contract with every limit reached at once and compiles its header with g++,
// so a limit cannot be raised without that proof. docs/diagnostics.md
// (E0070, E0071) says what each limit is for.
#pragma once

#include <cstdint>

namespace milkc::limits {

// The deepest nesting of a field's type: each array dimension and each
// struct level counts one. The generated codecs loop over arrays with one
// index per dimension, `i0` to `i9`, and hide only those names.
inline constexpr std::uint32_t max_nesting_depth = 10;

// Per file: enums, structs and contracts together.
inline constexpr std::uint32_t max_declarations = 256;
// Per file: the members of all enums together.
inline constexpr std::uint32_t max_enum_members = 1024;
// Per file: the messages of all contracts together.
inline constexpr std::uint32_t max_messages = 128;
// Per file: the states of all contracts together.
inline constexpr std::uint32_t max_states = 128;
// Per file: the transitions of all states together.
inline constexpr std::uint32_t max_transitions = 512;

// Fields need no limit of their own: every field takes at least one byte and
// no struct or message is larger than a slot's 56-byte payload (E0040).

}  // namespace milkc::limits
