// The front end in one call: lex, parse and check a contract file.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"
#include "source.hpp"

#include <functional>
#include <optional>

namespace milkc {

// Runs on the tree after the checks, whatever they found (but not after a
// syntax error), adding diagnostics of its own: milkc passes the model
// checker's explanation of a racing state (explain_mixed_states).
using AfterChecks = std::function<void(const File& file, DiagnosticSink& found)>;

// Returns the checked tree, or nothing when `sink` received errors. All errors
// of the file are reported, not only the first, in source order.
[[nodiscard]] std::optional<File> parse_and_check(const SourceFile& source, DiagnosticSink& sink,
                                                  const AfterChecks& after_checks = {});

}  // namespace milkc
