// Rendering of the host config's diagnostics (milk/host/config_diagnostic.hpp).
#include <milk/host/config_diagnostic.hpp>

#include "config_internal.hpp"

#include <cstdio>

namespace milk::host {

std::string code_string(DiagnosticCode code) {
    char text[8];
    std::snprintf(text, sizeof text, "H%04u", static_cast<unsigned>(code));
    return text;
}

std::string format(const Diagnostic& diagnostic) {
    std::string out = diagnostic.where.file;
    if (diagnostic.where.line != 0) {
        out += ':' + std::to_string(diagnostic.where.line) + ':' + std::to_string(diagnostic.where.column);
    }
    out += ": error[" + code_string(diagnostic.code) + "]: " + diagnostic.message + '\n';
    if (!diagnostic.note.empty()) out += "  note: " + diagnostic.note + '\n';
    return out;
}

namespace config_detail {

void DiagnosticList::add(DiagnosticCode code, std::string message, Location where, std::string note) {
    if (m_capped) return;
    if (m_diagnostics.size() == max_diagnostics) {
        // Past this many, the first errors are what a user needs; the count
        // says that there are more without listing them.
        m_capped = true;
        m_diagnostics.push_back(Diagnostic{DiagnosticCode::TooManyErrors,
                                           "too many errors; stopping after " + std::to_string(max_diagnostics),
                                           Location{where.file, 0, 0},
                                           "fix these and check again for the rest"});
        return;
    }
    m_diagnostics.push_back(Diagnostic{code, std::move(message), std::move(where), std::move(note)});
}

}  // namespace config_detail

}  // namespace milk::host
