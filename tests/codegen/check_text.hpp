// The front end's tests' way in: a contract's text through parse_and_check,
// with the tree it returns (none on an error) and every diagnostic.
#pragma once

#include "frontend.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace milkc::testing {

struct Checked {
    std::optional<File> file;
    std::vector<Diagnostic> diagnostics;
};

inline Checked check_text(std::string text) {
    SourceFile source("test.contract", std::move(text));
    DiagnosticSink sink(source);
    Checked checked;
    checked.file = parse_and_check(source, sink);
    checked.diagnostics = sink.diagnostics();
    return checked;
}

}  // namespace milkc::testing
