// A contract source file held in memory, with line lookup for diagnostics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace milkc {

class SourceFile {
public:
    SourceFile(std::string path, std::string text);

    [[nodiscard]] const std::string& path() const { return m_path; }
    [[nodiscard]] std::string_view text() const { return m_text; }

    // The text of 1-based line `line`, without its newline; empty past the end.
    [[nodiscard]] std::string_view line(std::uint32_t line) const;

private:
    std::string m_path;
    std::string m_text;
    std::vector<std::size_t> m_line_starts;
};

}  // namespace milkc
