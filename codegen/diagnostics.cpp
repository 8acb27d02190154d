#include "diagnostics.hpp"

#include "utf8.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace milkc {

std::string code_string(DiagnosticCode code) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "E%04u", static_cast<unsigned>(code));
    return buffer;
}

void DiagnosticSink::error(DiagnosticCode code, Location location, std::string message, std::string hint) {
    if (m_diagnostics.size() >= m_limit) {
        ++m_suppressed;
        return;
    }
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

// At most this many bytes of a source line are shown on either side of the
// caret: a one-line file of 64 KB must not be printed once per error.
constexpr std::size_t excerpt_radius = 60;

struct Excerpt {
    std::string text;
    std::uint32_t column = 1;  // where the caret goes, in `text`
};

bool is_continuation(char byte) { return (static_cast<unsigned char>(byte) & 0xc0) == 0x80; }

// The part of `line` around byte `column` (1-based), cut at character
// boundaries and marked with `...` where it was cut.
Excerpt excerpt_of(std::string_view line, std::uint32_t column) {
    std::size_t caret = column == 0 ? 0 : column - 1;
    if (line.size() <= 2 * excerpt_radius) return {std::string(line), column};
    std::size_t begin = caret > excerpt_radius ? caret - excerpt_radius : 0;
    // A character has at most three continuation bytes; past that the
    // bytes are not UTF-8 anyway, and any cut will do.
    for (int step = 0; step < 3 && begin > 0 && begin < line.size() && is_continuation(line[begin]); ++step) --begin;
    std::size_t end = std::min(line.size(), caret + excerpt_radius);
    for (int step = 0; step < 3 && end < line.size() && is_continuation(line[end]); ++step) ++end;
    Excerpt excerpt;
    if (begin > 0) excerpt.text = "...";
    excerpt.text += line.substr(begin, end - begin);
    if (end < line.size()) excerpt.text += "...";
    excerpt.column = static_cast<std::uint32_t>(caret - begin + 1 + (begin > 0 ? 3 : 0));
    return excerpt;
}

// A source line as shown: bytes that are not UTF-8 become `?` and control
// bytes other than tabs become blanks, one for one, so that the output stays
// text (E0004 reports such bytes) and the caret keeps its column.
std::string printable(std::string_view line) {
    std::string out(line);
    for (std::size_t i = 0; i < out.size();) {
        std::size_t length = utf8_sequence_length(line, i);
        if (length == 0) {
            out[i] = '?';
            length = 1;
        } else if (length == 1 && ((static_cast<unsigned char>(out[i]) < 0x20 && out[i] != '\t') || out[i] == 0x7f)) {
            // Control characters (but tabs) and DEL print as blanks.
            out[i] = ' ';
        }
        i += length;
    }
    return out;
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
        Excerpt excerpt = excerpt_of(source.line(location.line), location.column);
        excerpt.text = printable(excerpt.text);
        out += ' ' + number + " |";
        if (!excerpt.text.empty()) {
            out += ' ';
            out += excerpt.text;
        }
        out += '\n';
        out += gutter + " | " + caret_indent(excerpt.text, excerpt.column) + "^\n";
    }
    if (!diagnostic.hint.empty()) out += gutter + " = hint: " + diagnostic.hint + '\n';
}

}  // namespace

std::string DiagnosticSink::render() const {
    std::string out;
    for (const Diagnostic& diagnostic : m_diagnostics) render_one(out, *m_source, diagnostic);
    if (m_suppressed > 0) {
        out += m_source->path() + ": note: " + std::to_string(m_suppressed) + " more error" +
               (m_suppressed == 1 ? "" : "s") + " not shown; milkc shows the first " + std::to_string(m_limit) +
               " of a file\n";
    }
    return out;
}

}  // namespace milkc
