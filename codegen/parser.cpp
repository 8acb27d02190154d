#include "parser.hpp"

#include "lexer.hpp"
#include "limits.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace milkc {

namespace {

// Which construct the parser is inside. It decides which keywords end the
// skipping after a syntax error: a keyword that starts an item of this level
// or of an enclosing one.
enum class Level : std::uint8_t { Top, Record, Contract, State };

bool is_keyword(TokenKind kind) {
    switch (kind) {
    case TokenKind::KwPackage:
    case TokenKind::KwEnum:
    case TokenKind::KwStruct:
    case TokenKind::KwContract:
    case TokenKind::KwMessage:
    case TokenKind::KwInitial:
    case TokenKind::KwState:
    case TokenKind::KwSend:
    case TokenKind::KwRecv:
    case TokenKind::KwEnd: return true;
    default: return false;
    }
}

bool starts_top_level_item(TokenKind kind) {
    return kind == TokenKind::KwPackage || kind == TokenKind::KwEnum || kind == TokenKind::KwStruct ||
           kind == TokenKind::KwContract;
}

bool starts_contract_item(TokenKind kind) {
    return kind == TokenKind::KwMessage || kind == TokenKind::KwInitial || kind == TokenKind::KwState;
}

bool starts_type(TokenKind kind) { return kind == TokenKind::PrimitiveType || kind == TokenKind::Identifier; }

class Parser {
public:
    Parser(const SourceFile& source, LexResult lexed, DiagnosticSink& sink)
        : m_source(&source), m_tokens(std::move(lexed.tokens)), m_sink(&sink) {
        for (Comment& comment : lexed.comments) {
            if (comment.own_line) m_own_line_comments.emplace(comment.line, std::move(comment.text));
        }
    }

    [[nodiscard]] std::size_t syntax_errors() const { return m_syntax_errors; }

    File parse_file() {
        File file;
        file.path = m_source->path();
        if (at(TokenKind::KwPackage)) {
            parse_package(file);
        } else {
            error_here("expected `package` declaration at the start of the file, found " + describe(peek()),
                       "every contract file starts with its package, e.g. `package demo.ping;`");
        }
        while (!at(TokenKind::EndOfFile)) {
            switch (peek().kind) {
            case TokenKind::KwEnum: parse_enum(file); break;
            case TokenKind::KwStruct: parse_struct(file); break;
            case TokenKind::KwContract: parse_contract(file); break;
            case TokenKind::KwPackage:
                error_here("a file has one `package` declaration, and it comes first");
                advance();
                synchronize(Level::Top);
                break;
            case TokenKind::Semicolon:
                if (previous_kind() == TokenKind::RightBrace) {
                    error_here("unexpected `;` after a declaration",
                               "enums, structs and contracts end with their closing `}`; remove the `;`");
                } else {
                    error_here("expected `enum`, `struct` or `contract`, found `;`");
                }
                advance();
                break;
            default:
                error_here("expected `enum`, `struct` or `contract`, found " + describe(peek()));
                advance();
                synchronize(Level::Top);
                break;
            }
        }
        return file;
    }

private:
    // ---- token access ------------------------------------------------------

    [[nodiscard]] const Token& peek(std::size_t ahead = 0) const {
        std::size_t index = m_pos + ahead;
        return index < m_tokens.size() ? m_tokens[index] : m_tokens.back();
    }

    [[nodiscard]] bool at(TokenKind kind) const { return peek().kind == kind; }

    const Token& advance() {
        const Token& token = peek();
        if (m_pos + 1 < m_tokens.size()) ++m_pos;
        return token;
    }

    bool accept(TokenKind kind) {
        if (!at(kind)) return false;
        advance();
        return true;
    }

    [[nodiscard]] TokenKind previous_kind() const {
        return m_pos > 0 ? m_tokens[m_pos - 1].kind : TokenKind::EndOfFile;
    }

    // ---- diagnostics -------------------------------------------------------

    void report(std::size_t token_index, Location location, std::string message, std::string hint = {}) {
        ++m_syntax_errors;
        // The lexer has already reported an Invalid token; and one token gets
        // at most one syntax error, so recovery never repeats itself.
        if (m_tokens[token_index].kind == TokenKind::Invalid) return;
        if (m_last_error_token == token_index) return;
        m_last_error_token = token_index;
        m_sink->error(DiagnosticCode::SyntaxError, location, std::move(message), std::move(hint));
    }

    void error_here(std::string message, std::string hint = {}) {
        report(m_pos, peek().location, std::move(message), std::move(hint));
    }

    // Where a missing token belongs: right after the previous token.
    [[nodiscard]] Location after_previous() const {
        if (m_pos == 0) return peek().location;
        const Token& previous = m_tokens[m_pos - 1];
        return {previous.location.line,
                previous.location.column + static_cast<std::uint32_t>(previous.text.size())};
    }

    bool expect(TokenKind kind, std::string_view context) {
        if (accept(kind)) return true;
        error_here("expected " + describe(kind) + " " + std::string(context) + ", found " + describe(peek()));
        return false;
    }

    // A missing `;` is reported right after the token it should follow. When
    // the next token starts a new line or closes the block, the parser goes
    // on as if the `;` were there: that is almost always what was meant.
    bool expect_semicolon(std::string_view context) {
        if (accept(TokenKind::Semicolon)) return true;
        const Token& next = peek();
        bool on_new_line = m_pos > 0 && next.location.line > m_tokens[m_pos - 1].location.line;
        report(m_pos, after_previous(), "expected `;` " + std::string(context) + ", found " + describe(next));
        return on_new_line || next.kind == TokenKind::RightBrace;
    }

    // A name. A keyword where a name belongs is reported and then taken as
    // the name, so that the rest of the declaration still parses.
    std::optional<Token> expect_name(std::string_view what) {
        const Token& token = peek();
        if (token.kind == TokenKind::Identifier) return advance();
        if (is_keyword(token.kind) || token.kind == TokenKind::PrimitiveType) {
            error_here("expected " + std::string(what) + ", found keyword `" + token.text + "`",
                       "`" + token.text + "` is a keyword of the contract language; choose another name");
            return advance();
        }
        error_here("expected " + std::string(what) + ", found " + describe(token));
        return std::nullopt;
    }

    // Skips the rest of a broken item: up to and including the next `;` or
    // the `}` that closes a block opened while skipping, or up to (excluding)
    // a `}` that closes the enclosing block, a keyword that starts an item at
    // `level` or above, or a `,` when `stop_at_comma`.
    void synchronize(Level level, bool stop_at_comma = false) {
        int depth = 0;
        while (true) {
            const Token& token = peek();
            TokenKind kind = token.kind;
            if (kind == TokenKind::EndOfFile) return;
            if (depth == 0) {
                if (starts_top_level_item(kind)) return;
                if ((level == Level::Contract || level == Level::State) && starts_contract_item(kind)) return;
                if (level == Level::State && (kind == TokenKind::KwSend || kind == TokenKind::KwRecv)) return;
                if (stop_at_comma && kind == TokenKind::Comma) return;
                if (kind == TokenKind::RightBrace) return;
                if (kind == TokenKind::Semicolon) {
                    advance();
                    return;
                }
            }
            switch (kind) {
            case TokenKind::LeftBrace:
            case TokenKind::LeftParen:
            case TokenKind::LeftBracket: ++depth; break;
            case TokenKind::RightParen:
            case TokenKind::RightBracket:
                if (depth > 0) --depth;
                break;
            case TokenKind::RightBrace:
                --depth;
                if (depth == 0) {
                    advance();
                    return;
                }
                break;
            default: break;
            }
            advance();
        }
    }

    // ---- documentation -----------------------------------------------------

    // The own-line comments on the lines right above `token`, when `token`
    // is the first token of its line.
    [[nodiscard]] DocComment doc_for(std::size_t token_index) const {
        const Token& token = m_tokens[token_index];
        if (token_index > 0 && m_tokens[token_index - 1].location.line == token.location.line) return {};
        // Walks up from the line above and reverses once at the end: inserting
        // each line at the front instead made 100,000 comment lines take
        // quadratic time.
        DocComment doc;
        std::uint32_t line = token.location.line;
        while (line > 1) {
            auto found = m_own_line_comments.find(line - 1);
            if (found == m_own_line_comments.end()) break;
            doc.push_back(found->second);
            --line;
        }
        std::reverse(doc.begin(), doc.end());
        return doc;
    }

    // ---- declarations ------------------------------------------------------

    void parse_package(File& file) {
        file.doc = doc_for(m_pos);
        advance();  // package
        file.package_location = peek().location;
        while (true) {
            // Any word will do here, keywords of the contract language
            // included: `package demo.message;` is unambiguous.
            const Token& name = peek();
            if (name.kind != TokenKind::Identifier && !is_keyword(name.kind) &&
                name.kind != TokenKind::PrimitiveType) {
                error_here("expected package name, found " + describe(name));
                synchronize(Level::Top);
                return;
            }
            file.package.push_back(advance().text);
            if (!accept(TokenKind::Dot)) break;
        }
        if (!expect_semicolon("after the package name")) synchronize(Level::Top);
    }

    // type = ( primitive | NAME ) { "[" INTEGER "]" }
    std::optional<TypeRef> parse_type(std::string_view what) {
        const Token& token = peek();
        TypeRef type;
        type.location = token.location;
        if (token.kind == TokenKind::PrimitiveType) {
            type.kind = TypeRef::Kind::Primitive;
            type.primitive = token.primitive;
        } else if (token.kind == TokenKind::Identifier) {
            type.kind = TypeRef::Kind::Named;
            type.name = token.text;
        } else {
            error_here("expected " + std::string(what) + ", found " + describe(token));
            return std::nullopt;
        }
        advance();
        // `T[A][B]` reads as in C: A elements, each a `T[B]`.
        struct Dimension {
            std::uint64_t size;
            Location location;
        };
        std::vector<Dimension> dimensions;
        while (accept(TokenKind::LeftBracket)) {
            // Beyond the nesting limit one more dimension is kept, enough for
            // the checks to report E0070; the rest are read but not stored, so
            // that a hostile type of a million dimensions cannot make the
            // recursive walks over types (and their destructors) overflow
            // the stack.
            bool keep = dimensions.size() <= limits::max_nesting_depth;
            const Token& size = peek();
            if (size.kind != TokenKind::Integer) {
                error_here("expected the array size, found " + describe(size),
                           size.kind == TokenKind::RightBracket ? "arrays have a fixed size, e.g. `u8[16]`; "
                                                                  "for data of varying length use `bytes`"
                                                                : "");
                return std::nullopt;
            }
            advance();
            if (keep) dimensions.push_back({size.value, size.location});
            if (!expect(TokenKind::RightBracket, "after the array size")) return std::nullopt;
        }
        for (auto dimension = dimensions.rbegin(); dimension != dimensions.rend(); ++dimension) {
            TypeRef array;
            array.kind = TypeRef::Kind::Array;
            array.array_size = dimension->size;
            // An array's location is its size, where E0042 points.
            array.location = dimension->location;
            array.element = std::make_unique<TypeRef>(std::move(type));
            type = std::move(array);
        }
        return type;
    }

    // field = type NAME
    std::optional<Field> parse_field() {
        Field field;
        field.doc = doc_for(m_pos);
        std::optional<TypeRef> type = parse_type("a field type");
        if (!type) return std::nullopt;
        field.type = std::move(*type);
        std::optional<Token> name = expect_name("field name");
        if (!name) return std::nullopt;
        field.name = name->text;
        field.location = name->location;
        return field;
    }

    // `u8 name[4]` as C writes it. The size belongs to the type here.
    void report_c_array(const Field& field) {
        error_here("expected the end of field `" + field.name + "`, found `[`",
                   "an array's size goes with its type: `" + spell(field.type) + "[N] " + field.name + "`");
    }

    // enum = "enum" NAME ":" [ "flags" ] type "{" [ member { "," member } [ "," ] ] "}"
    // (`flags` is a word only here, so that fields may still be named so.)
    void parse_enum(File& file) {
        EnumDecl decl;
        decl.doc = doc_for(m_pos);
        advance();  // enum
        std::optional<Token> name = expect_name("enum name");
        if (!name) return synchronize(Level::Top);
        decl.name = name->text;
        decl.location = name->location;
        if (!accept(TokenKind::Colon)) {
            error_here("expected `:` and the underlying type after enum name `" + decl.name + "`, found " +
                           describe(peek()),
                       "write the enum's wire type, e.g. `enum " + decl.name + " : u8 { ... }`");
            return synchronize(Level::Top);
        }
        if (at(TokenKind::Identifier) && peek().text == "flags" && peek(1).kind != TokenKind::LeftBrace) {
            advance();  // flags
            decl.kind = EnumKind::Flags;
        }
        std::optional<TypeRef> underlying = parse_type("the underlying type");
        if (!underlying) return synchronize(Level::Top);
        if (underlying->kind == TypeRef::Kind::Primitive && underlying->primitive >= PrimitiveKind::U8 &&
            underlying->primitive <= PrimitiveKind::U64) {
            decl.underlying = underlying->primitive;
        } else {
            // Not a syntax error: the tree stays whole, so the checks still run.
            // The widest type stands in, so that no value is reported as too large.
            decl.underlying = PrimitiveKind::U64;
            m_sink->error(DiagnosticCode::BadEnumUnderlying, underlying->location,
                          "the underlying type of enum `" + decl.name + "` must be u8, u16, u32 or u64, not `" +
                              spell(*underlying) + "`",
                          "enum values travel as unsigned integers");
        }
        if (!expect(TokenKind::LeftBrace, "to open enum `" + decl.name + "`")) return synchronize(Level::Top);

        while (true) {
            if (accept(TokenKind::RightBrace)) break;
            if (at(TokenKind::EndOfFile) || starts_top_level_item(peek().kind)) {
                error_here("expected `}` to close enum `" + decl.name + "`, found " + describe(peek()));
                break;
            }
            if (!parse_enum_member(decl)) {
                synchronize(Level::Record, true);
                accept(TokenKind::Comma);
                continue;
            }
            if (accept(TokenKind::Comma)) continue;
            if (at(TokenKind::RightBrace)) continue;
            error_here("expected `,` or `}` after enum member `" + decl.members.back().name + "`, found " +
                       describe(peek()));
            // `name = ` next: a comma is missing; go on with that member.
            if (!(at(TokenKind::Identifier) && peek(1).kind == TokenKind::Equals)) synchronize(Level::Record, true);
        }
        file.enums.push_back(std::move(decl));
    }

    // member = NAME "=" INTEGER
    bool parse_enum_member(EnumDecl& decl) {
        EnumMember member;
        member.doc = doc_for(m_pos);
        std::optional<Token> name = expect_name("enum member name");
        if (!name) {
            if (!at(TokenKind::Comma) && !at(TokenKind::RightBrace)) advance();
            return false;
        }
        member.name = name->text;
        member.location = name->location;
        if (!accept(TokenKind::Equals)) {
            error_here("expected `=` and a value after enum member `" + member.name + "`, found " + describe(peek()),
                       "every enum member has an explicit value, e.g. `" + member.name + " = 1`");
            return false;
        }
        const Token& value = peek();
        if (value.kind != TokenKind::Integer) {
            error_here("expected the value of enum member `" + member.name + "`, found " + describe(value));
            return false;
        }
        advance();
        member.value = value.value;
        decl.members.push_back(std::move(member));
        return true;
    }

    // struct = "struct" NAME "{" { field ";" } "}"
    void parse_struct(File& file) {
        StructDecl decl;
        decl.doc = doc_for(m_pos);
        advance();  // struct
        std::optional<Token> name = expect_name("struct name");
        if (!name) return synchronize(Level::Top);
        decl.name = name->text;
        decl.location = name->location;
        if (!expect(TokenKind::LeftBrace, "to open struct `" + decl.name + "`")) return synchronize(Level::Top);
        while (true) {
            if (accept(TokenKind::RightBrace)) break;
            if (at(TokenKind::EndOfFile) || starts_top_level_item(peek().kind)) {
                error_here("expected `}` to close struct `" + decl.name + "`, found " + describe(peek()));
                break;
            }
            std::optional<Field> field = parse_field();
            if (!field) {
                if (!at(TokenKind::RightBrace) && !at(TokenKind::Semicolon)) advance();
                synchronize(Level::Record);
                continue;
            }
            std::string field_name = field->name;
            decl.fields.push_back(std::move(*field));
            if (at(TokenKind::LeftBracket)) {
                report_c_array(decl.fields.back());
                synchronize(Level::Record);
            } else if (!expect_semicolon("after field `" + field_name + "`")) {
                synchronize(Level::Record);
            }
        }
        file.structs.push_back(std::move(decl));
    }

    // contract = "contract" NAME [ "extends" NAME ] "{" { message | state } "}"
    void parse_contract(File& file) {
        ContractDecl decl;
        decl.doc = doc_for(m_pos);
        advance();  // contract
        std::optional<Token> name = expect_name("contract name");
        if (!name) return synchronize(Level::Top);
        decl.name = name->text;
        decl.location = name->location;
        // `extends` is a word only here, so that it stays free as a name.
        if (at(TokenKind::Identifier) && peek().text == "extends") {
            advance();
            std::optional<Token> base = expect_name("the name of the contract `" + decl.name + "` extends");
            if (!base) return synchronize(Level::Top);
            decl.base = base->text;
            decl.base_location = base->location;
        }
        if (!expect(TokenKind::LeftBrace, "to open contract `" + decl.name + "`")) return synchronize(Level::Top);
        while (true) {
            if (accept(TokenKind::RightBrace)) break;
            TokenKind kind = peek().kind;
            if (kind == TokenKind::EndOfFile || starts_top_level_item(kind)) {
                error_here("expected `}` to close contract `" + decl.name + "`, found " + describe(peek()));
                break;
            }
            if (kind == TokenKind::KwMessage) {
                parse_message(decl);
            } else if (kind == TokenKind::KwState || kind == TokenKind::KwInitial ||
                       (kind == TokenKind::Identifier && peek().text == "entry" &&
                        peek(1).kind == TokenKind::KwState)) {
                // `entry` is a word only right before `state`.
                parse_state(decl.states);
            } else if (kind == TokenKind::Identifier && peek().text == "protocol" &&
                       peek(1).kind == TokenKind::Identifier) {
                // `protocol` is a word only here, followed by a name.
                parse_protocol(decl);
            } else {
                error_here("expected `message`, `state`, `initial state`, `protocol` or `}` in contract `" +
                           decl.name + "`, found " + describe(peek()));
                advance();
                synchronize(Level::Contract);
            }
        }
        file.contracts.push_back(std::move(decl));
    }

    // message = "message" NAME "(" [ field { "," field } ] ")" ";"
    void parse_message(ContractDecl& contract) {
        MessageDecl decl;
        decl.doc = doc_for(m_pos);
        advance();  // message
        std::optional<Token> name = expect_name("message name");
        if (!name) return synchronize(Level::Contract);
        decl.name = name->text;
        decl.location = name->location;
        // The message is kept even when the rest of it is broken: its name is
        // known, and the tree should show what the file declares.
        bool complete = parse_message_fields(decl);
        std::string message_name = decl.name;
        contract.messages.push_back(std::move(decl));
        if (!complete || !expect_semicolon("after message `" + message_name + "`")) synchronize(Level::Contract);
    }

    // "(" [ field { "," field } ] ")"
    bool parse_message_fields(MessageDecl& decl) {
        if (!expect(TokenKind::LeftParen, "after message name `" + decl.name + "`")) return false;
        if (accept(TokenKind::RightParen)) return true;
        while (true) {
            std::optional<Field> field = parse_field();
            if (!field) return false;
            decl.fields.push_back(std::move(*field));
            if (accept(TokenKind::Comma)) continue;
            if (accept(TokenKind::RightParen)) return true;
            if (at(TokenKind::LeftBracket)) {
                report_c_array(decl.fields.back());
                return false;
            }
            error_here("expected `,` or `)` after field `" + decl.fields.back().name + "`, found " + describe(peek()));
            // `T name` next: a comma is missing; go on with that field.
            if (!(starts_type(peek().kind) && peek(1).kind == TokenKind::Identifier)) return false;
        }
    }

    // protocol = "protocol" NAME "{" { state } "}"
    void parse_protocol(ContractDecl& contract) {
        SubProtocolDecl decl;
        decl.doc = doc_for(m_pos);
        advance();  // protocol
        const Token& name = advance();
        decl.name = name.text;
        decl.location = name.location;
        if (!expect(TokenKind::LeftBrace, "to open protocol `" + decl.name + "`")) return synchronize(Level::Contract);
        while (true) {
            if (accept(TokenKind::RightBrace)) break;
            TokenKind kind = peek().kind;
            if (kind == TokenKind::EndOfFile || starts_top_level_item(kind)) {
                error_here("expected `}` to close protocol `" + decl.name + "`, found " + describe(peek()));
                break;
            }
            if (kind == TokenKind::KwState) {
                parse_state(decl.states);
            } else {
                error_here("expected `state` or `}` in protocol `" + decl.name + "`, found " + describe(peek()),
                           kind == TokenKind::KwInitial
                               ? "a protocol starts in its first state; `initial` marks the contract's"
                               : "");
                advance();
                synchronize(Level::Contract);
            }
        }
        contract.protocols.push_back(std::move(decl));
    }

    // state = [ "initial" | "entry" ] "state" NAME "{" { transition | close } "}"
    void parse_state(std::vector<StateDecl>& states) {
        StateDecl decl;
        decl.doc = doc_for(m_pos);
        if (accept(TokenKind::KwInitial)) {
            decl.kind = StateKind::Initial;
            if (!expect(TokenKind::KwState, "after `initial`")) return synchronize(Level::Contract);
        } else if (at(TokenKind::Identifier)) {
            advance();  // entry (parse_contract saw `entry state`)
            advance();  // state
            decl.kind = StateKind::Entry;
        } else {
            advance();  // state
        }
        std::optional<Token> name = expect_name("state name");
        if (!name) return synchronize(Level::Contract);
        decl.name = name->text;
        decl.location = name->location;
        if (!expect(TokenKind::LeftBrace, "to open state `" + decl.name + "`")) return synchronize(Level::Contract);
        // The states its sequences imply follow it, in the order they appear.
        std::vector<StateDecl> implied;
        while (true) {
            if (accept(TokenKind::RightBrace)) break;
            TokenKind kind = peek().kind;
            if (kind == TokenKind::EndOfFile || starts_top_level_item(kind) || starts_contract_item(kind)) {
                error_here("expected `}` to close state `" + decl.name + "`, found " + describe(peek()));
                break;
            }
            if (kind == TokenKind::KwSend || kind == TokenKind::KwRecv) {
                parse_transition(decl, implied);
            } else if (kind == TokenKind::Identifier && peek().text == "close") {
                // `close;`: a word only here, so a message or field may still
                // be called `close`.
                parse_close(decl);
            } else {
                error_here("expected `send`, `recv`, `close` or `}` in state `" + decl.name + "`, found " +
                               describe(peek()),
                           "a transition reads `send Message -> NextState;` or `recv Message -> NextState;`");
                advance();
                synchronize(Level::State);
            }
        }
        states.push_back(std::move(decl));
        for (StateDecl& state : implied) states.push_back(std::move(state));
    }

    // close = "close" ";"
    void parse_close(StateDecl& state) {
        const Token& word = advance();
        if (state.may_close) {
            m_sink->error(DiagnosticCode::DuplicateTransition, word.location,
                          "state `" + state.name + "` already says `close`, at line " +
                              std::to_string(state.close_location.line),
                          "say `close;` once per state");
        } else {
            state.may_close = true;
            state.close_location = word.location;
        }
        if (!expect_semicolon("after `close`")) synchronize(Level::State);
    }

    // transition = step ";"
    void parse_transition(StateDecl& state, std::vector<StateDecl>& implied) {
        if (!parse_step(state, implied, 0)) return synchronize(Level::State);
        if (!expect_semicolon("after the transition")) synchronize(Level::State);
    }

    // After an error inside a group: past its `)`, so that its other
    // branches are not taken for transitions of the state (the caller then
    // skips to the `;`). Stops early at a `;` or `}`. Always false.
    bool skip_group() {
        int depth = 1;
        while (depth > 0) {
            const TokenKind kind = peek().kind;
            if (kind == TokenKind::EndOfFile || kind == TokenKind::Semicolon || kind == TokenKind::RightBrace) break;
            if (kind == TokenKind::LeftParen) ++depth;
            if (kind == TokenKind::RightParen) --depth;
            advance();
        }
        return false;
    }

    // step  = ( "send" | "recv" ) NAME "->" next
    // next  = NAME | "end" | step | "(" step { "|" step } ")"
    //
    // A sequence: a step or a group after the arrow happens in a state of
    // its own, which the parser adds (to `implied`) and names after the
    // state and the message that leads there: `send Open -> (recv Opened ->
    // Ready | recv Failed -> Ready)` in `Idle` is `send Open -> Idle_Open`
    // and a state `Idle_Open { recv Opened -> Ready; recv Failed -> Ready; }`.
    // The checks and everything after them see plain states.
    bool parse_step(StateDecl& state, std::vector<StateDecl>& implied, std::uint32_t depth) {
        Transition transition;
        transition.location = peek().location;
        transition.direction = advance().kind == TokenKind::KwSend ? Direction::Send : Direction::Recv;
        std::optional<Token> message = expect_name("message name");
        if (!message) return false;
        transition.message = message->text;
        transition.message_location = message->location;
        if (!expect(TokenKind::Arrow, "after message `" + transition.message + "`")) return false;
        if (at(TokenKind::KwEnd)) {
            transition.target = "end";
            transition.target_location = advance().location;
        } else if (at(TokenKind::Identifier)) {
            const Token& target = advance();
            transition.target = target.text;
            transition.target_location = target.location;
            // `-> Auth -> Ready`: a call of the sub-protocol Auth, and the
            // state where it returns to (or `end`, or `return` for a call in
            // a protocol, which returns where that protocol does).
            if (transition.target != "return" && accept(TokenKind::Arrow)) {
                transition.call = transition.target;
                transition.call_location = transition.target_location;
                if (at(TokenKind::KwEnd)) {
                    transition.target = "end";
                    transition.target_location = advance().location;
                } else if (at(TokenKind::Identifier)) {
                    const Token& after = advance();
                    transition.target = after.text;
                    transition.target_location = after.location;
                } else {
                    error_here("expected the state to go on in after protocol `" + transition.call +
                                   "` returns (a state name, `end` or `return`), found " + describe(peek()),
                               "a call reads `send Login -> Auth -> Ready;`");
                    return false;
                }
            }
        } else if (at(TokenKind::KwSend) || at(TokenKind::KwRecv) || at(TokenKind::LeftParen)) {
            // Each step of a sequence is a state: a sequence longer than a
            // contract's states can be is refused here, before it recurses
            // any deeper.
            if (depth + 1 >= limits::max_states) {
                ++m_syntax_errors;
                m_sink->error(DiagnosticCode::TooMany, transition.location,
                              "a sequence of more than " + std::to_string(limits::max_states) +
                                  " steps: each step after the first is a state, and a contract has at most " +
                                  std::to_string(limits::max_states));
                // The rest of it is the same error: skipped to its `;`.
                for (int parens = 0; !at(TokenKind::EndOfFile) && !at(TokenKind::RightBrace);) {
                    const TokenKind kind = advance().kind;
                    if (kind == TokenKind::LeftParen) ++parens;
                    if (kind == TokenKind::RightParen && parens > 0) --parens;
                    if (kind == TokenKind::Semicolon && parens == 0) break;
                }
                return false;
            }
            const std::string verb = transition.direction == Direction::Send ? "send" : "recv";
            StateDecl next;
            next.name = state.name + "_" + transition.message;
            next.location = transition.location;
            next.implied_by = "the state after `" + verb + " " + transition.message + "` in `" + state.name + "`";
            transition.target = next.name;
            transition.target_location = peek().location;
            // Its place in the order, before the states it implies in turn.
            const std::size_t slot = implied.size();
            implied.emplace_back();
            if (accept(TokenKind::LeftParen)) {
                do {
                    if (!at(TokenKind::KwSend) && !at(TokenKind::KwRecv)) {
                        error_here("expected `send` or `recv` to start a branch of the group after `" + verb + " " +
                                       transition.message + "`, found " + describe(peek()),
                                   "a group reads `(recv A -> S | recv B -> T)`");
                        return skip_group();
                    }
                    if (!parse_step(next, implied, depth + 1)) return skip_group();
                } while (accept(TokenKind::Pipe));
                if (!expect(TokenKind::RightParen,
                            "to close the group after `" + verb + " " + transition.message + "`")) {
                    return false;
                }
            } else if (!parse_step(next, implied, depth + 1)) {
                return false;
            }
            implied[slot] = std::move(next);
        } else {
            error_here("expected a target state name, `end`, a next step or a group after `->`, found " +
                       describe(peek()));
            return false;
        }
        state.transitions.push_back(std::move(transition));
        return true;
    }

    [[nodiscard]] static std::string spell(const TypeRef& type) {
        switch (type.kind) {
        case TypeRef::Kind::Primitive: return std::string(primitive_name(type.primitive));
        case TypeRef::Kind::Named: return type.name;
        case TypeRef::Kind::Array: {
            // Outermost dimension first, as written.
            std::string dimensions;
            const TypeRef* element = &type;
            while (element->kind == TypeRef::Kind::Array) {
                dimensions += "[" + std::to_string(element->array_size) + "]";
                element = element->element.get();
            }
            return spell(*element) + dimensions;
        }
        }
        return "?";
    }

    const SourceFile* m_source;
    std::vector<Token> m_tokens;
    DiagnosticSink* m_sink;
    std::map<std::uint32_t, std::string> m_own_line_comments;
    std::size_t m_pos = 0;
    std::size_t m_syntax_errors = 0;
    std::size_t m_last_error_token = SIZE_MAX;
};

}  // namespace

ParseResult parse(const SourceFile& source, DiagnosticSink& sink) {
    std::size_t errors_before = sink.error_count();
    LexResult lexed = lex(source, sink);
    bool lexer_ok = sink.error_count() == errors_before;
    Parser parser(source, std::move(lexed), sink);
    ParseResult result;
    result.file = parser.parse_file();
    result.syntax_ok = lexer_ok && parser.syntax_errors() == 0;
    return result;
}

}  // namespace milkc
