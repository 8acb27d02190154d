// Sub-protocols: `protocol Auth { state Ask { ... } ... }` in a contract, and
// calls of it, `send Login -> Auth -> Ready;` (docs/contract-language.md,
// "Sub-protocols"). This stage, after extension and before the checks,
// replaces every call by plain states: a copy of the protocol's states for
// each call, named `<State>_<Message>_<ProtocolState>` after the state and
// the message of the call, entered at the copy of the protocol's first
// state, with every `return` in it going to the state the call names. A call
// inside a protocol is copied along and expanded in turn. The checks and
// every later stage see plain states.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"

namespace milkc {

// Expands every call of every contract. Errors: an unknown protocol (E0025),
// a protocol that calls itself (E0026), two protocols of one name (E0010),
// a protocol never called (E0031), `return` in a state of the contract's own
// (E0022), more states than a contract may have (E0071). False when any was
// reported: the checks would only report the same names again.
bool expand_subprotocols(File& file, DiagnosticSink& sink);

}  // namespace milkc
