// Contract extension: `contract Derived extends Base { ... }` is Base's
// messages and states, then Derived's own (docs/contract-language.md,
// "Extension"). This stage copies them in, so that the checks and every
// later stage see one plain contract.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"

namespace milkc {

// For every contract with a base, in dependency order: the base's messages
// first (the same names, fields and so tags), then the contract's own; the
// base's states first, in their order, then the contract's new states; a
// state the contract declares under a base state's name adds its
// transitions to it. An unknown base is E0023, a cycle E0024; false when
// either was reported (the checks would only report the missing names).
bool extend_contracts(File& file, DiagnosticSink& sink);

}  // namespace milkc
