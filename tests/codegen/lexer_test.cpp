// Unit tests of the contract lexer.
#include "lexer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using milkc::DiagnosticCode;
using milkc::TokenKind;

struct Lexed {
    milkc::LexResult result;
    std::vector<milkc::Diagnostic> diagnostics;
};

Lexed lex_text(std::string text) {
    milkc::SourceFile source("test.contract", std::move(text));
    milkc::DiagnosticSink sink(source);
    Lexed lexed;
    lexed.result = milkc::lex(source, sink);
    lexed.diagnostics = sink.diagnostics();
    return lexed;
}

std::vector<TokenKind> kinds(const Lexed& lexed) {
    std::vector<TokenKind> out;
    for (const milkc::Token& token : lexed.result.tokens) out.push_back(token.kind);
    return out;
}

}  // namespace

TEST_CASE("lexer: punctuation, keywords and identifiers") {
    Lexed lexed = lex_text("package a.b; { } ( ) [ ] : , = -> contract message initial state send recv end enum struct Foo _x9");
    CHECK(lexed.diagnostics.empty());
    std::vector<TokenKind> expected{
        TokenKind::KwPackage,  TokenKind::Identifier, TokenKind::Dot,          TokenKind::Identifier,
        TokenKind::Semicolon,  TokenKind::LeftBrace,  TokenKind::RightBrace,   TokenKind::LeftParen,
        TokenKind::RightParen, TokenKind::LeftBracket, TokenKind::RightBracket, TokenKind::Colon,
        TokenKind::Comma,      TokenKind::Equals,     TokenKind::Arrow,        TokenKind::KwContract,
        TokenKind::KwMessage,  TokenKind::KwInitial,  TokenKind::KwState,      TokenKind::KwSend,
        TokenKind::KwRecv,     TokenKind::KwEnd,      TokenKind::KwEnum,       TokenKind::KwStruct,
        TokenKind::Identifier, TokenKind::Identifier, TokenKind::EndOfFile,
    };
    CHECK(kinds(lexed) == expected);
    CHECK(lexed.result.tokens[1].text == "a");
    CHECK(lexed.result.tokens[24].text == "Foo");
    CHECK(lexed.result.tokens[25].text == "_x9");
}

TEST_CASE("lexer: primitive type names") {
    Lexed lexed = lex_text("bool u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 bytes u128 bytes2");
    REQUIRE(lexed.result.tokens.size() == 15);
    std::vector<milkc::PrimitiveKind> expected{
        milkc::PrimitiveKind::Bool, milkc::PrimitiveKind::U8,  milkc::PrimitiveKind::U16, milkc::PrimitiveKind::U32,
        milkc::PrimitiveKind::U64,  milkc::PrimitiveKind::I8,  milkc::PrimitiveKind::I16, milkc::PrimitiveKind::I32,
        milkc::PrimitiveKind::I64,  milkc::PrimitiveKind::F32, milkc::PrimitiveKind::F64, milkc::PrimitiveKind::Bytes,
    };
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(lexed.result.tokens[i].kind == TokenKind::PrimitiveType);
        CHECK(lexed.result.tokens[i].primitive == expected[i]);
        CHECK(milkc::primitive_name(expected[i]) == lexed.result.tokens[i].text);
    }
    // Words that only start like a type name are identifiers.
    CHECK(lexed.result.tokens[12].kind == TokenKind::Identifier);
    CHECK(lexed.result.tokens[13].kind == TokenKind::Identifier);
}

TEST_CASE("lexer: locations are 1-based lines and byte columns") {
    Lexed lexed = lex_text("package x;\n\n  state\tFoo\n");
    REQUIRE(lexed.result.tokens.size() == 6);
    CHECK(lexed.result.tokens[0].location.line == 1);
    CHECK(lexed.result.tokens[0].location.column == 1);
    CHECK(lexed.result.tokens[1].location.column == 9);
    CHECK(lexed.result.tokens[3].location.line == 3);
    CHECK(lexed.result.tokens[3].location.column == 3);
    CHECK(lexed.result.tokens[4].location.column == 9);
    CHECK(lexed.result.tokens[5].kind == TokenKind::EndOfFile);
    CHECK(lexed.result.tokens[5].location.line == 4);
}

TEST_CASE("lexer: integer literals") {
    Lexed lexed = lex_text("0 7 42 0x0 0xff 0XAbC 18446744073709551615 0xffffffffffffffff");
    CHECK(lexed.diagnostics.empty());
    std::vector<std::uint64_t> expected{0, 7, 42, 0, 255, 0xabc, UINT64_MAX, UINT64_MAX};
    REQUIRE(lexed.result.tokens.size() == expected.size() + 1);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(lexed.result.tokens[i].kind == TokenKind::Integer);
        CHECK(lexed.result.tokens[i].value == expected[i]);
    }
}

TEST_CASE("lexer: malformed integer literals are E0003, one each") {
    for (const char* text : {"18446744073709551616", "0x10000000000000000", "0x", "12ab", "0xfg", "007"}) {
        CAPTURE(text);
        Lexed lexed = lex_text(text);
        REQUIRE(lexed.diagnostics.size() == 1);
        CHECK(lexed.diagnostics[0].code == DiagnosticCode::BadIntegerLiteral);
        CHECK(lexed.diagnostics[0].location.column == 1);
        // One Invalid token that the parser will not report again.
        CHECK(kinds(lexed) == std::vector<TokenKind>{TokenKind::Invalid, TokenKind::EndOfFile});
    }
    Lexed octal = lex_text("010");
    CHECK(octal.diagnostics.at(0).hint.find("leading zero") != std::string::npos);
}

TEST_CASE("lexer: comments are not tokens, and know whether they stand alone") {
    Lexed lexed = lex_text("// first\n///  second  \nstate // trailing\n//\n");
    CHECK(lexed.diagnostics.empty());
    CHECK(kinds(lexed) == std::vector<TokenKind>{TokenKind::KwState, TokenKind::EndOfFile});
    REQUIRE(lexed.result.comments.size() == 4);
    CHECK(lexed.result.comments[0].text == "first");
    CHECK(lexed.result.comments[0].own_line);
    CHECK(lexed.result.comments[0].line == 1);
    CHECK(lexed.result.comments[1].text == " second");
    CHECK(lexed.result.comments[2].text == "trailing");
    CHECK_FALSE(lexed.result.comments[2].own_line);
    CHECK(lexed.result.comments[3].text.empty());
    CHECK(lexed.result.comments[3].own_line);
}

TEST_CASE("lexer: a run of invalid characters is one E0002") {
    Lexed lexed = lex_text("state $@# Foo");
    REQUIRE(lexed.diagnostics.size() == 1);
    CHECK(lexed.diagnostics[0].code == DiagnosticCode::InvalidCharacter);
    CHECK(lexed.diagnostics[0].location.column == 7);
    CHECK(lexed.diagnostics[0].message.find("`$`") != std::string::npos);
    CHECK(kinds(lexed) ==
          std::vector<TokenKind>{TokenKind::KwState, TokenKind::Invalid, TokenKind::Identifier, TokenKind::EndOfFile});
}

TEST_CASE("lexer: invalid characters get a helpful name and hint") {
    Lexed minus = lex_text("a = -1");
    REQUIRE(minus.diagnostics.size() == 1);
    CHECK(minus.diagnostics[0].hint.find("unsigned") != std::string::npos);

    Lexed slash = lex_text("/ comment");
    REQUIRE(slash.diagnostics.size() == 1);
    CHECK(slash.diagnostics[0].hint.find("//") != std::string::npos);

    Lexed utf8 = lex_text("caf\xc3\xa9 x");
    REQUIRE(utf8.diagnostics.size() == 1);
    CHECK(utf8.diagnostics[0].message.find("U+00E9") != std::string::npos);
    CHECK(utf8.diagnostics[0].location.column == 4);
    CHECK(kinds(utf8) == std::vector<TokenKind>{TokenKind::Identifier, TokenKind::Invalid, TokenKind::Identifier,
                                                TokenKind::EndOfFile});
}

TEST_CASE("lexer: UTF-8 inside comments is fine") {
    Lexed lexed = lex_text("// caf\xc3\xa9 \xe2\x86\x92 ok\nstate");
    CHECK(lexed.diagnostics.empty());
    REQUIRE(lexed.result.comments.size() == 1);
    CHECK(lexed.result.comments[0].text == "caf\xc3\xa9 \xe2\x86\x92 ok");
}

TEST_CASE("lexer: describe names tokens for diagnostics") {
    Lexed lexed = lex_text("Foo 12 u8 { state");
    CHECK(milkc::describe(lexed.result.tokens[0]) == "identifier `Foo`");
    CHECK(milkc::describe(lexed.result.tokens[1]) == "integer `12`");
    CHECK(milkc::describe(lexed.result.tokens[2]) == "type `u8`");
    CHECK(milkc::describe(lexed.result.tokens[3]) == "`{`");
    CHECK(milkc::describe(lexed.result.tokens[4]) == "`state`");
    CHECK(milkc::describe(lexed.result.tokens[5]) == "end of file");
}
