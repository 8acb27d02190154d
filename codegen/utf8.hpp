// UTF-8 well-formedness, as the lexer checks comments (E0004) and as
// diagnostics show source lines.
#pragma once

#include <cstddef>
#include <string_view>

namespace milkc {

// The length of the well-formed UTF-8 sequence at `pos` of `text`, or 0 when
// none starts there (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF, no sequence cut short by the end of `text`).
[[nodiscard]] inline std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
    unsigned char first = byte(0);
    if (first < 0x80) return 1;
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (first >= 0xc2 && first <= 0xdf) {
        length = 2;
    } else if (first >= 0xe0 && first <= 0xef) {
        length = 3;
        if (first == 0xe0) low = 0xa0;   // overlong
        if (first == 0xed) high = 0x9f;  // surrogates
    } else if (first >= 0xf0 && first <= 0xf4) {
        length = 4;
        if (first == 0xf0) low = 0x90;   // overlong
        if (first == 0xf4) high = 0x8f;  // above U+10FFFF
    } else {
        return 0;
    }
    if (pos + length > text.size()) return 0;
    if (byte(1) < low || byte(1) > high) return 0;
    for (std::size_t i = 2; i < length; ++i) {
        if ((byte(i) & 0xc0) != 0x80) return 0;
    }
    return length;
}

}  // namespace milkc
