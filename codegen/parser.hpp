// The contract language's parser: recursive descent from tokens to a File.
//
// After a syntax error the parser skips to the end of the broken item (the
// next `;`, or the `}` that closes it) and goes on, so one run reports every
// syntax error of a file. The grammar is in docs/contract-language.md.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"
#include "source.hpp"

namespace milkc {

struct ParseResult {
    File file;
    // False when the lexer or the parser reported an error that leaves the
    // tree incomplete (E0001..E0003). The checks must not run on such a tree:
    // a declaration that failed to parse would show up as unknown names.
    // E0045, which the parser also reports, leaves the tree whole.
    bool syntax_ok = true;
};

// Lexes and parses `source`; every problem goes to `sink`.
[[nodiscard]] ParseResult parse(const SourceFile& source, DiagnosticSink& sink);

}  // namespace milkc
