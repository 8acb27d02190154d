// The front end in one call: lex, parse and check a contract file.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"
#include "source.hpp"

#include <optional>

namespace milkc {

// Returns the checked tree, or nothing when `sink` received errors. All errors
// of the file are reported, not only the first.
[[nodiscard]] std::optional<File> parse_and_check(const SourceFile& source, DiagnosticSink& sink);

}  // namespace milkc
