// milkc --compat OLD NEW: may a contract evolve from OLD to NEW?
//
// A contract's identity (identity.hpp) changes with every change, so a
// channel opened by contract refuses a peer built from another version. What
// this stage answers is the question asked before rolling a new version out
// to one side first: can a server built from NEW serve every client built
// from OLD, so that NEW may accept OLD's identity? The rules, as FIDL writes
// its own down (docs/contract-language.md, "Identity and evolution"):
//
//   - every contract of OLD is in NEW, under the same name (E0080);
//   - every message of OLD keeps its tag (its place among the messages) and
//     its wire layout, every type it uses included (E0081); new messages come
//     after the old ones;
//   - every state of OLD keeps its number (its place among the states) and
//     whether it is initial (E0082); new states come after the old ones;
//   - every transition of OLD is still there, to the same state, and every
//     old state says `close;` exactly when it did (E0083);
//   - in a state an old client can be in (an old state), NEW adds no message
//     the server sends (E0084): the old client could not take it. New
//     messages the client sends are free: an old client never sends them.
//
// Names of fields, of enum members and of the contract's comments are free
// to change: the wire does not carry them.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"

#include <string>

namespace milkc {

// Checks every contract of `old_file` against the one of the same name in
// `new_file`; both passed the checks. Diagnostics go to `sink` (the new
// file's) at the new file's declarations, naming the old file's lines.
void check_compat(const File& old_file, const std::string& old_path, const File& new_file, DiagnosticSink& sink);

}  // namespace milkc
