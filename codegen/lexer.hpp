// The contract language's lexer: source text to tokens.
//
// Comments do not become tokens; they are returned on the side, with a note
// whether each stands on a line of its own, so that the parser can attach the
// comment lines right above a declaration as its documentation.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"
#include "source.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace milkc {

enum class TokenKind : std::uint8_t {
    EndOfFile,
    // A run of characters that start no token. The lexer has reported it
    // (E0002, E0003); the parser recovers without reporting it again.
    Invalid,
    Identifier,
    Integer,
    // bool, u8..u64, i8..i64, f32, f64, bytes: Token::primitive says which.
    PrimitiveType,
    KwPackage,
    KwEnum,
    KwStruct,
    KwContract,
    KwMessage,
    KwInitial,
    KwState,
    KwSend,
    KwRecv,
    KwEnd,
    LeftBrace,
    RightBrace,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Semicolon,
    Colon,
    Comma,
    Equals,
    Arrow,
    Dot,
    Pipe,
};

struct Token {
    TokenKind kind = TokenKind::EndOfFile;
    // The token's text as written (for EndOfFile: empty).
    std::string text;
    Location location;
    std::uint64_t value = 0;                       // TokenKind::Integer
    PrimitiveKind primitive = PrimitiveKind::U8;  // TokenKind::PrimitiveType
};

struct Comment {
    std::uint32_t line = 0;
    // The text after the leading slashes and one space, without trailing blanks.
    std::string text;
    // True when only blanks precede the comment on its line. Only such
    // comments can document the declaration below them.
    bool own_line = false;
};

struct LexResult {
    // Always ends with one EndOfFile token.
    std::vector<Token> tokens;
    std::vector<Comment> comments;
};

// Splits `source` into tokens. Problems (E0002, E0003) go to `sink`; the
// lexer keeps going so that the parser can report further errors.
[[nodiscard]] LexResult lex(const SourceFile& source, DiagnosticSink& sink);

// How diagnostics name a token kind: "`{`", "`state`", "identifier".
[[nodiscard]] std::string describe(TokenKind kind);
// How diagnostics name a token: "`{`", "identifier `Foo`", "end of file".
[[nodiscard]] std::string describe(const Token& token);

// The spelling of a primitive type: PrimitiveKind::U32 -> "u32".
[[nodiscard]] std::string_view primitive_name(PrimitiveKind kind);

}  // namespace milkc
