#include "diagnostics.hpp"

#include <cstdio>
#include <utility>

namespace milkc {

std::string code_string(DiagnosticCode code) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "E%04u", static_cast<unsigned>(code));
    return buffer;
}

void DiagnosticSink::error(DiagnosticCode code, Location location, std::string message, std::string hint) {
    m_diagnostics.push_back({code, location, std::move(message), std::move(hint)});
}

namespace {

// The blanks that put a caret under byte `column` (1-based) of `line`: tabs
// stay tabs so the caret lines up however the terminal expands them, and the
// continuation bytes of UTF-8 characters take no room.
std::string caret_indent(std::string_view line, std::uint32_t column) {
    std::string indent;
    for (std::uint32_t i = 0; i + 1 < column; ++i) {
        if (i >= line.size()) {
            indent += ' ';
            continue;
        }
        auto byte = static_cast<unsigned char>(line[i]);
        if (byte == '\t') {
            indent += '\t';
        } else if ((byte & 0xc0) != 0x80) {
            indent += ' ';
        }
    }
    return indent;
}

void render_one(std::string& out, const SourceFile& source, const Diagnostic& diagnostic) {
    const Location& location = diagnostic.location;
    out += source.path();
    if (location.line != 0) {
        out += ':' + std::to_string(location.line) + ':' + std::to_string(location.column);
    }
    out += ": error[" + code_string(diagnostic.code) + "]: " + diagnostic.message + '\n';

    std::string number = std::to_string(location.line);
    std::string gutter(number.size() + 1, ' ');
    if (location.line != 0) {
        std::string_view text = source.line(location.line);
        out += ' ' + number + " |";
        if (!text.empty()) {
            out += ' ';
            out += text;
        }
        out += '\n';
        out += gutter + " | " + caret_indent(text, location.column) + "^\n";
    }
    if (!diagnostic.hint.empty()) out += gutter + " = hint: " + diagnostic.hint + '\n';
}

}  // namespace

std::string DiagnosticSink::render() const {
    std::string out;
    for (const Diagnostic& diagnostic : m_diagnostics) render_one(out, *m_source, diagnostic);
    return out;
}

}  // namespace milkc
