#include "source.hpp"

namespace milkc {

SourceFile::SourceFile(std::string path, std::string text)
    : m_path(std::move(path)), m_text(std::move(text)) {
    m_line_starts.push_back(0);
    for (std::size_t i = 0; i < m_text.size(); ++i) {
        if (m_text[i] == '\n') m_line_starts.push_back(i + 1);
    }
}

std::string_view SourceFile::line(std::uint32_t line) const {
    if (line == 0 || line > m_line_starts.size()) return {};
    std::size_t begin = m_line_starts[line - 1];
    std::size_t end = line < m_line_starts.size() ? m_line_starts[line] - 1 : m_text.size();
    std::string_view text = std::string_view(m_text).substr(begin, end - begin);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    return text;
}

}  // namespace milkc
