#include "frontend.hpp"

#include "checks.hpp"
#include "extend.hpp"
#include "parser.hpp"
#include "subprotocol.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

namespace milkc {

std::optional<File> parse_and_check(const SourceFile& source, DiagnosticSink& sink,
                                    const AfterChecks& after_checks) {
    // Collected apart first so that they reach `sink` in source order: the
    // lexer, the parser and each check find problems in their own order.
    DiagnosticSink found(source, ErrorLimit::Unlimited);
    ParseResult parsed = parse(source, found);
    // On a tree with syntax errors the checks would report the broken
    // declarations again, as unknown or missing names.
    // An extension that cannot be completed would show up the same way.
    if (parsed.syntax_ok && extend_contracts(parsed.file, found) && expand_subprotocols(parsed.file, found)) {
        check(parsed.file, found);
        if (after_checks) after_checks(parsed.file, found);
    }

    // Sorted by location, and by report order at one location. (Not with
    // std::stable_sort: libstdc++ 12's implementation trips clang 19's
    // deprecation warning for get_temporary_buffer.)
    std::vector<Diagnostic> diagnostics = found.diagnostics();
    std::vector<std::size_t> order(diagnostics.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const Location& left = diagnostics[a].location;
        const Location& right = diagnostics[b].location;
        return std::tie(left.line, left.column, a) < std::tie(right.line, right.column, b);
    });
    for (std::size_t index : order) {
        Diagnostic& diagnostic = diagnostics[index];
        sink.error(diagnostic.code, diagnostic.location, std::move(diagnostic.message), std::move(diagnostic.hint));
    }
    if (!diagnostics.empty()) return std::nullopt;
    return std::move(parsed.file);
}

}  // namespace milkc
