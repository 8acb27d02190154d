#include "lexer.hpp"
#include "utf8.hpp"

#include <array>
#include <cstdio>
#include <optional>
#include <utility>

namespace milkc {

namespace {

struct Keyword {
    std::string_view spelling;
    TokenKind kind;
};

constexpr std::array keywords{
    Keyword{"package", TokenKind::KwPackage},   Keyword{"enum", TokenKind::KwEnum},
    Keyword{"struct", TokenKind::KwStruct},     Keyword{"contract", TokenKind::KwContract},
    Keyword{"message", TokenKind::KwMessage},   Keyword{"initial", TokenKind::KwInitial},
    Keyword{"state", TokenKind::KwState},       Keyword{"send", TokenKind::KwSend},
    Keyword{"recv", TokenKind::KwRecv},         Keyword{"end", TokenKind::KwEnd},
};

struct PrimitiveSpelling {
    std::string_view spelling;
    PrimitiveKind kind;
};

constexpr std::array primitives{
    PrimitiveSpelling{"bool", PrimitiveKind::Bool}, PrimitiveSpelling{"u8", PrimitiveKind::U8},
    PrimitiveSpelling{"u16", PrimitiveKind::U16},   PrimitiveSpelling{"u32", PrimitiveKind::U32},
    PrimitiveSpelling{"u64", PrimitiveKind::U64},   PrimitiveSpelling{"i8", PrimitiveKind::I8},
    PrimitiveSpelling{"i16", PrimitiveKind::I16},   PrimitiveSpelling{"i32", PrimitiveKind::I32},
    PrimitiveSpelling{"i64", PrimitiveKind::I64},   PrimitiveSpelling{"f32", PrimitiveKind::F32},
    PrimitiveSpelling{"f64", PrimitiveKind::F64},   PrimitiveSpelling{"bytes", PrimitiveKind::Bytes},
};

bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Names a character that starts no token. Printable ASCII is shown as is;
// anything else by its code point, so the message stays readable whatever
// the terminal makes of the byte.
std::string describe_character(std::string_view text, std::size_t pos, std::size_t& length) {
    auto byte = static_cast<unsigned char>(text[pos]);
    length = 1;
    if (byte >= 0x21 && byte < 0x7f) return "`" + std::string(1, static_cast<char>(byte)) + "`";
    std::uint32_t code_point = byte;
    std::size_t continuation = 0;
    if ((byte & 0xe0) == 0xc0) {
        code_point = byte & 0x1f;
        continuation = 1;
    } else if ((byte & 0xf0) == 0xe0) {
        code_point = byte & 0x0f;
        continuation = 2;
    } else if ((byte & 0xf8) == 0xf0) {
        code_point = byte & 0x07;
        continuation = 3;
    }
    if (continuation > 0 && pos + continuation < text.size()) {
        bool valid = true;
        for (std::size_t i = 1; i <= continuation; ++i) {
            auto next = static_cast<unsigned char>(text[pos + i]);
            if ((next & 0xc0) != 0x80) {
                valid = false;
                break;
            }
            code_point = (code_point << 6) | (next & 0x3f);
        }
        if (valid) {
            length = continuation + 1;
        } else {
            code_point = byte;
        }
    } else {
        code_point = byte;
    }
    std::array<char, 16> buffer{};
    if (length == 1 && byte >= 0x80) {
        std::snprintf(buffer.data(), buffer.size(), "byte 0x%02X", static_cast<unsigned>(byte));
    } else {
        std::snprintf(buffer.data(), buffer.size(), "U+%04X", static_cast<unsigned>(code_point));
    }
    return buffer.data();
}

class Lexer {
public:
    Lexer(const SourceFile& source, DiagnosticSink& sink) : m_text(source.text()), m_sink(&sink) {}

    LexResult run() {
        while (true) {
            skip_blanks_and_comments();
            if (m_pos >= m_text.size()) break;
            lex_token();
        }
        Token end;
        end.kind = TokenKind::EndOfFile;
        end.location = here();
        m_result.tokens.push_back(std::move(end));
        return std::move(m_result);
    }

private:
    [[nodiscard]] Location here() const { return {m_line, static_cast<std::uint32_t>(m_pos - m_line_start + 1)}; }

    [[nodiscard]] char peek(std::size_t ahead = 0) const {
        return m_pos + ahead < m_text.size() ? m_text[m_pos + ahead] : '\0';
    }

    void skip_blanks_and_comments() {
        while (m_pos < m_text.size()) {
            char c = m_text[m_pos];
            if (c == '\n') {
                ++m_pos;
                ++m_line;
                m_line_start = m_pos;
                m_line_has_token = false;
            } else if (is_blank(c)) {
                ++m_pos;
            } else if (c == '/' && peek(1) == '/') {
                lex_comment();
            } else {
                return;
            }
        }
    }

    void lex_comment() {
        Comment comment;
        comment.line = m_line;
        comment.own_line = !m_line_has_token;
        std::size_t begin = m_pos;
        while (m_pos < m_text.size() && m_text[m_pos] != '\n') ++m_pos;
        std::string_view body = m_text.substr(begin, m_pos - begin);
        check_comment_encoding(body, begin);
        // "/// text" and "// text" both document as "text".
        while (!body.empty() && body.front() == '/') body.remove_prefix(1);
        if (!body.empty() && body.front() == ' ') body.remove_prefix(1);
        while (!body.empty() && is_blank(body.back())) body.remove_suffix(1);
        comment.text = std::string(body);
        m_result.comments.push_back(std::move(comment));
    }

    // The language says comments are UTF-8, and the emitters copy them into
    // generated code: a NUL byte or a broken sequence there would end up in
    // a header that editors and compilers may read differently. One error per
    // comment, at its first bad byte.
    void check_comment_encoding(std::string_view body, std::size_t begin) {
        std::size_t bad = 0;
        std::string problem;
        for (std::size_t i = 0; i < body.size();) {
            std::size_t length = utf8_sequence_length(body, i);
            if (length == 0) {
                bad = i;
                char buffer[64];
                std::snprintf(buffer, sizeof buffer, "a comment holds the byte 0x%02X, which is not valid UTF-8",
                              static_cast<unsigned>(static_cast<unsigned char>(body[i])));
                problem = buffer;
                break;
            }
            if (body[i] == '\0') {
                bad = i;
                problem = "a comment holds a NUL byte";
                break;
            }
            i += length;
        }
        if (problem.empty()) return;
        Location location{m_line, static_cast<std::uint32_t>(begin + bad - m_line_start + 1)};
        m_sink->error(DiagnosticCode::InvalidComment, location, std::move(problem),
                      "comments are UTF-8 text; save the file as UTF-8 and remove control bytes");
    }

    void push(TokenKind kind, Location location, std::size_t begin) {
        Token token;
        token.kind = kind;
        token.location = location;
        token.text = std::string(m_text.substr(begin, m_pos - begin));
        m_result.tokens.push_back(std::move(token));
        m_line_has_token = true;
    }

    void lex_token() {
        Location location = here();
        std::size_t begin = m_pos;
        char c = m_text[m_pos];
        if (is_ident_start(c)) {
            while (m_pos < m_text.size() && is_ident_char(m_text[m_pos])) ++m_pos;
            lex_word(location, begin);
            return;
        }
        if (is_digit(c)) {
            lex_integer(location, begin);
            return;
        }
        ++m_pos;
        switch (c) {
        case '{': push(TokenKind::LeftBrace, location, begin); return;
        case '}': push(TokenKind::RightBrace, location, begin); return;
        case '(': push(TokenKind::LeftParen, location, begin); return;
        case ')': push(TokenKind::RightParen, location, begin); return;
        case '[': push(TokenKind::LeftBracket, location, begin); return;
        case ']': push(TokenKind::RightBracket, location, begin); return;
        case ';': push(TokenKind::Semicolon, location, begin); return;
        case ':': push(TokenKind::Colon, location, begin); return;
        case ',': push(TokenKind::Comma, location, begin); return;
        case '=': push(TokenKind::Equals, location, begin); return;
        case '.': push(TokenKind::Dot, location, begin); return;
        case '|': push(TokenKind::Pipe, location, begin); return;
        case '-':
            if (peek() == '>') {
                ++m_pos;
                push(TokenKind::Arrow, location, begin);
                return;
            }
            break;
        default: break;
        }
        m_pos = begin;
        lex_invalid(location);
    }

    // A run of characters that start no token becomes one Invalid token and
    // one diagnostic, not one per byte.
    void lex_invalid(Location location) {
        std::size_t begin = m_pos;
        std::size_t length = 0;
        std::string first = describe_character(m_text, m_pos, length);
        bool minus_before_digit = m_text[m_pos] == '-' && is_digit(peek(1));
        bool lone_slash = m_text[m_pos] == '/';
        m_pos += length;
        std::size_t count = 1;
        while (m_pos < m_text.size() && starts_no_token(m_pos)) {
            std::size_t next_length = 0;
            (void)describe_character(m_text, m_pos, next_length);
            m_pos += next_length;
            ++count;
        }
        std::string hint;
        if (minus_before_digit) {
            hint = "integers in contracts are never negative: enum values and array sizes are unsigned";
        } else if (lone_slash) {
            hint = "comments start with `//`";
        }
        std::string message = count == 1 ? "unexpected character " + first
                                         : "unexpected characters, starting with " + first;
        m_sink->error(DiagnosticCode::InvalidCharacter, location, std::move(message), std::move(hint));
        push(TokenKind::Invalid, location, begin);
    }

    [[nodiscard]] bool starts_no_token(std::size_t pos) const {
        char c = m_text[pos];
        if (is_ident_char(c) || is_blank(c) || c == '\n') return false;
        switch (c) {
        case '{':
        case '}':
        case '(':
        case ')':
        case '[':
        case ']':
        case ';':
        case ':':
        case ',':
        case '=':
        case '.':
        case '|': return false;
        case '-': return pos + 1 >= m_text.size() || m_text[pos + 1] != '>';
        case '/': return pos + 1 >= m_text.size() || m_text[pos + 1] != '/';
        default: return true;
        }
    }

    void lex_word(Location location, std::size_t begin) {
        std::string_view word = m_text.substr(begin, m_pos - begin);
        for (const Keyword& keyword : keywords) {
            if (keyword.spelling == word) {
                push(keyword.kind, location, begin);
                return;
            }
        }
        for (const PrimitiveSpelling& primitive : primitives) {
            if (primitive.spelling == word) {
                push(TokenKind::PrimitiveType, location, begin);
                m_result.tokens.back().primitive = primitive.kind;
                return;
            }
        }
        push(TokenKind::Identifier, location, begin);
    }

    void lex_integer(Location location, std::size_t begin) {
        bool hex = m_text[m_pos] == '0' && (peek(1) == 'x' || peek(1) == 'X');
        if (hex) m_pos += 2;
        std::size_t digits_begin = m_pos;
        // Take the whole alphanumeric run so that `12ab` is one bad literal,
        // not a literal followed by an identifier.
        while (m_pos < m_text.size() && is_ident_char(m_text[m_pos])) ++m_pos;
        std::string_view digits = m_text.substr(digits_begin, m_pos - digits_begin);
        std::string_view literal = m_text.substr(begin, m_pos - begin);

        std::optional<std::uint64_t> value = std::uint64_t{0};
        std::string problem;
        std::string hint;
        if (digits.empty()) {
            problem = "hexadecimal literal `" + std::string(literal) + "` has no digits";
            value.reset();
        }
        std::uint64_t base = hex ? 16 : 10;
        for (char digit : digits) {
            int digit_value = hex ? hex_digit_value(digit) : (is_digit(digit) ? digit - '0' : -1);
            if (digit_value < 0) {
                problem = "invalid digit `" + std::string(1, digit) + "` in integer literal `" + std::string(literal) + "`";
                value.reset();
                break;
            }
            if (*value > (UINT64_MAX - static_cast<std::uint64_t>(digit_value)) / base) {
                problem = "integer literal `" + std::string(literal) + "` does not fit in 64 bits";
                value.reset();
                break;
            }
            *value = *value * base + static_cast<std::uint64_t>(digit_value);
        }
        if (value && !hex && digits.size() > 1 && digits.front() == '0') {
            // C would read this as octal; refuse rather than guess.
            problem = "integer literal `" + std::string(literal) + "` has a leading zero";
            hint = "write it without the leading zero, or as hexadecimal with `0x`";
            value.reset();
        }
        push(TokenKind::Integer, location, begin);
        if (value) {
            m_result.tokens.back().value = *value;
        } else {
            m_sink->error(DiagnosticCode::BadIntegerLiteral, location, std::move(problem), std::move(hint));
            // The error is reported; the parser must not report the token again.
            m_result.tokens.back().kind = TokenKind::Invalid;
        }
    }

    std::string_view m_text;
    DiagnosticSink* m_sink;
    LexResult m_result;
    std::size_t m_pos = 0;
    std::uint32_t m_line = 1;
    std::size_t m_line_start = 0;
    bool m_line_has_token = false;
};

}  // namespace

LexResult lex(const SourceFile& source, DiagnosticSink& sink) { return Lexer(source, sink).run(); }

std::string_view primitive_name(PrimitiveKind kind) {
    for (const PrimitiveSpelling& primitive : primitives) {
        if (primitive.kind == kind) return primitive.spelling;
    }
    return "?";
}

std::string describe(TokenKind kind) {
    for (const Keyword& keyword : keywords) {
        if (keyword.kind == kind) return "`" + std::string(keyword.spelling) + "`";
    }
    switch (kind) {
    case TokenKind::EndOfFile: return "end of file";
    case TokenKind::Invalid: return "invalid token";
    case TokenKind::Identifier: return "identifier";
    case TokenKind::Integer: return "integer";
    case TokenKind::PrimitiveType: return "type";
    case TokenKind::LeftBrace: return "`{`";
    case TokenKind::RightBrace: return "`}`";
    case TokenKind::LeftParen: return "`(`";
    case TokenKind::RightParen: return "`)`";
    case TokenKind::LeftBracket: return "`[`";
    case TokenKind::RightBracket: return "`]`";
    case TokenKind::Semicolon: return "`;`";
    case TokenKind::Colon: return "`:`";
    case TokenKind::Comma: return "`,`";
    case TokenKind::Equals: return "`=`";
    case TokenKind::Arrow: return "`->`";
    case TokenKind::Dot: return "`.`";
    case TokenKind::Pipe: return "`|`";
    default: return "token";
    }
}

std::string describe(const Token& token) {
    switch (token.kind) {
    case TokenKind::Identifier: return "identifier `" + token.text + "`";
    case TokenKind::Integer: return "integer `" + token.text + "`";
    case TokenKind::PrimitiveType: return "type `" + token.text + "`";
    default: return describe(token.kind);
    }
}

}  // namespace milkc
