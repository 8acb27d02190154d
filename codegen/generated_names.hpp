// Names that generated C++ declares inside each contract's namespace, uses as
// member names of the endpoint classes, or uses as local names in its
// functions.
//
// One list, read by two stages: the checks reject a type, contract or message
// of one of these names (E0060), and the C++ emitter qualifies a file-level
// enum or struct whose name one of them would hide. Every name starting with
// `milk_` is reserved too (generated internals). docs/generated-code.md lists
// them for users.
#pragma once

#include <string_view>

namespace milkc {

inline constexpr std::string_view contract_scope_names[] = {
    // contract namespace
    "Client", "Contract", "Endpoints", "Server", "Tag", "client", "is_valid", "open_inproc", "protocol", "server", "state",
    // members of the endpoint classes
    "allocate", "receive", "receive_for", "role", "send", "state_type", "try_receive", "wait_for_room",
    // locals and parameters of the codec functions
    "end", "message", "raw", "slot",
};

// The prefix of generated internals (milk_encode, milk_decode, ...).
inline constexpr std::string_view generated_prefix = "milk_";

}  // namespace milkc
