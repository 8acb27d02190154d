// Unit tests of the contract parser: the tree it builds, and how it reports
// and recovers from syntax errors.
#include "parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using milkc::DiagnosticCode;

struct Parsed {
    milkc::ParseResult result;
    std::vector<milkc::Diagnostic> diagnostics;
};

Parsed parse_text(std::string text) {
    milkc::SourceFile source("test.contract", std::move(text));
    milkc::DiagnosticSink sink(source);
    Parsed parsed;
    parsed.result = milkc::parse(source, sink);
    parsed.diagnostics = sink.diagnostics();
    return parsed;
}

std::vector<std::uint32_t> error_lines(const Parsed& parsed) {
    std::vector<std::uint32_t> lines;
    for (const milkc::Diagnostic& diagnostic : parsed.diagnostics) lines.push_back(diagnostic.location.line);
    return lines;
}

const char* const ping_pong = R"(// The ping example.
package demo.ping;

// How hard to try.
enum Mode : u16 { fast = 1, safe = 0x20, }
struct Point { i32 x; i32 y; }

// Ping and pong.
// Two lines.
contract PingPong {
  // A ping.
  message Ping(u32 seq, bytes payload);   // trailing, not documentation
  message Pong(
    // The echoed number.
    u32 seq,
    Mode mode);
  message Bye();

  initial state Idle {
    send Ping -> Waiting;
    send Bye  -> end;
  }

  // Waiting for the pong.
  state Waiting {
    recv Pong -> Idle;
  }
}
)";

}  // namespace

TEST_CASE("parser: builds the tree of a well-formed file") {
    Parsed parsed = parse_text(ping_pong);
    REQUIRE(parsed.diagnostics.empty());
    REQUIRE(parsed.result.syntax_ok);
    const milkc::File& file = parsed.result.file;
    CHECK(file.path == "test.contract");
    CHECK(file.package == std::vector<std::string>{"demo", "ping"});
    CHECK(file.package_location.line == 2);
    CHECK(file.package_location.column == 9);
    CHECK(file.doc == milkc::DocComment{"The ping example."});

    REQUIRE(file.enums.size() == 1);
    const milkc::EnumDecl& mode = file.enums[0];
    CHECK(mode.name == "Mode");
    CHECK(mode.underlying == milkc::PrimitiveKind::U16);
    CHECK(mode.doc == milkc::DocComment{"How hard to try."});
    REQUIRE(mode.members.size() == 2);
    CHECK(mode.members[0].name == "fast");
    CHECK(mode.members[0].value == 1);
    CHECK(mode.members[1].name == "safe");
    CHECK(mode.members[1].value == 0x20);
    CHECK(mode.location.line == 5);
    CHECK(mode.location.column == 6);

    REQUIRE(file.structs.size() == 1);
    const milkc::StructDecl& point = file.structs[0];
    CHECK(point.name == "Point");
    REQUIRE(point.fields.size() == 2);
    CHECK(point.fields[1].name == "y");
    CHECK(point.fields[1].type.kind == milkc::TypeRef::Kind::Primitive);
    CHECK(point.fields[1].type.primitive == milkc::PrimitiveKind::I32);
    CHECK(point.doc.empty());

    REQUIRE(file.contracts.size() == 1);
    const milkc::ContractDecl& contract = file.contracts[0];
    CHECK(contract.name == "PingPong");
    CHECK(contract.doc == milkc::DocComment{"Ping and pong.", "Two lines."});
    REQUIRE(contract.messages.size() == 3);
    const milkc::MessageDecl& ping = contract.messages[0];
    CHECK(ping.name == "Ping");
    CHECK(ping.doc == milkc::DocComment{"A ping."});
    REQUIRE(ping.fields.size() == 2);
    CHECK(ping.fields[1].type.primitive == milkc::PrimitiveKind::Bytes);
    CHECK(ping.fields[1].doc.empty());
    const milkc::MessageDecl& pong = contract.messages[1];
    REQUIRE(pong.fields.size() == 2);
    CHECK(pong.fields[0].doc == milkc::DocComment{"The echoed number."});
    CHECK(pong.fields[1].type.kind == milkc::TypeRef::Kind::Named);
    CHECK(pong.fields[1].type.name == "Mode");
    CHECK(pong.fields[1].type.location.line == 16);
    CHECK(pong.fields[1].type.location.column == 5);
    CHECK(contract.messages[2].fields.empty());
    // Numbering is the checks' job.
    CHECK(ping.tag == 0);

    REQUIRE(contract.states.size() == 2);
    const milkc::StateDecl& idle = contract.states[0];
    CHECK(idle.name == "Idle");
    CHECK(idle.is_initial());
    REQUIRE(idle.transitions.size() == 2);
    CHECK(idle.transitions[0].direction == milkc::Direction::Send);
    CHECK(idle.transitions[0].message == "Ping");
    CHECK(idle.transitions[0].target == "Waiting");
    CHECK_FALSE(idle.transitions[0].ends());
    CHECK(idle.transitions[0].location.line == 20);
    CHECK(idle.transitions[0].location.column == 5);
    CHECK(idle.transitions[0].message_location.column == 10);
    CHECK(idle.transitions[0].target_location.column == 18);
    CHECK(idle.transitions[1].ends());
    const milkc::StateDecl& waiting = contract.states[1];
    CHECK_FALSE(waiting.is_initial());
    CHECK(waiting.doc == milkc::DocComment{"Waiting for the pong."});
    REQUIRE(waiting.transitions.size() == 1);
    CHECK(waiting.transitions[0].direction == milkc::Direction::Recv);
}

TEST_CASE("parser: arrays read as in C, outermost dimension first") {
    Parsed parsed = parse_text("package p;\nstruct S { u8[4][2] grid; Point[3] points; }\n");
    REQUIRE(parsed.diagnostics.empty());
    const milkc::TypeRef& grid = parsed.result.file.structs.at(0).fields.at(0).type;
    REQUIRE(grid.kind == milkc::TypeRef::Kind::Array);
    CHECK(grid.array_size == 4);
    CHECK(grid.location.column == 15);  // at the size
    REQUIRE(grid.element->kind == milkc::TypeRef::Kind::Array);
    CHECK(grid.element->array_size == 2);
    CHECK(grid.element->element->kind == milkc::TypeRef::Kind::Primitive);
    CHECK(grid.element->element->primitive == milkc::PrimitiveKind::U8);
    const milkc::TypeRef& points = parsed.result.file.structs.at(0).fields.at(1).type;
    CHECK(points.array_size == 3);
    CHECK(points.element->name == "Point");
}

TEST_CASE("parser: documentation needs the comment right above, alone on its line") {
    Parsed parsed = parse_text(R"(package p;
// separated by a blank line

struct A { u8 a; }
struct B { u8 b; } // trailing
struct C { u8 c; }
// directly above
// and again
struct D { u8 d; }
)");
    REQUIRE(parsed.diagnostics.empty());
    const auto& structs = parsed.result.file.structs;
    REQUIRE(structs.size() == 4);
    CHECK(structs[0].doc.empty());
    CHECK(structs[1].doc.empty());
    CHECK(structs[2].doc.empty());
    CHECK(structs[3].doc == milkc::DocComment{"directly above", "and again"});
    // A field on the struct's own line takes no documentation either.
    CHECK(structs[3].fields[0].doc.empty());
}

TEST_CASE("parser: E0045 leaves the tree whole") {
    Parsed parsed = parse_text("package p;\nenum E : i32 { a = 1 }\nenum F : Other { b = 2 }\n");
    CHECK(parsed.result.syntax_ok);
    REQUIRE(parsed.diagnostics.size() == 2);
    CHECK(parsed.diagnostics[0].code == DiagnosticCode::BadEnumUnderlying);
    CHECK(parsed.diagnostics[0].location.line == 2);
    CHECK(parsed.diagnostics[0].location.column == 10);
    CHECK(parsed.diagnostics[1].code == DiagnosticCode::BadEnumUnderlying);
    REQUIRE(parsed.result.file.enums.size() == 2);
    CHECK(parsed.result.file.enums[0].members.size() == 1);
}

TEST_CASE("parser: every syntax error of a file is reported, once") {
    Parsed parsed = parse_text(R"(package p;
struct A { u8 a u8 b; }
struct B { u8 ; }
contract C {
  message M(u32 x y);
  message N(u8 a);
  initial state S {
    send M -> ;
    recv N T;
    send N -> end;
  }
  state T { send M end; }
}
)");
    CHECK_FALSE(parsed.result.syntax_ok);
    CHECK(error_lines(parsed) == std::vector<std::uint32_t>{2, 3, 5, 8, 9, 12});
    for (const milkc::Diagnostic& diagnostic : parsed.diagnostics) {
        CHECK(diagnostic.code == DiagnosticCode::SyntaxError);
    }
    // The parser found its way back: the declarations after the errors exist.
    const milkc::File& file = parsed.result.file;
    REQUIRE(file.contracts.size() == 1);
    CHECK(file.contracts[0].messages.size() == 2);
    REQUIRE(file.contracts[0].states.size() == 2);
    CHECK(file.contracts[0].states[0].transitions.size() == 1);
    CHECK(file.contracts[0].states[0].transitions[0].message == "N");
}

TEST_CASE("parser: a missing semicolon at the end of a line is reported where it belongs, and parsing goes on") {
    Parsed parsed = parse_text("package p;\nstruct A {\n  u8 a\n  u8 b;\n}\n");
    REQUIRE(parsed.diagnostics.size() == 1);
    CHECK(parsed.diagnostics[0].message == "expected `;` after field `a`, found type `u8`");
    CHECK(parsed.diagnostics[0].location.line == 3);
    CHECK(parsed.diagnostics[0].location.column == 7);
    CHECK(parsed.result.file.structs.at(0).fields.size() == 2);
}

TEST_CASE("parser: a missing `}` is one error, and the next declaration still parses") {
    Parsed parsed = parse_text(R"(package p;
contract C {
  message M();
  initial state S {
    send M -> T;
  state T {
    recv M -> end;
  }
}
struct After { u8 a; }
)");
    REQUIRE(parsed.diagnostics.size() == 1);
    CHECK(parsed.diagnostics[0].location.line == 6);
    CHECK(parsed.diagnostics[0].message.find("to close state `S`") != std::string::npos);
    REQUIRE(parsed.result.file.contracts.size() == 1);
    CHECK(parsed.result.file.contracts[0].states.size() == 2);
    CHECK(parsed.result.file.structs.size() == 1);
}

TEST_CASE("parser: a keyword used as a name is one error") {
    Parsed parsed = parse_text("package p;\nstruct A { u8 state; u8 b; }\n");
    REQUIRE(parsed.diagnostics.size() == 1);
    CHECK(parsed.diagnostics[0].message == "expected field name, found keyword `state`");
    CHECK(parsed.result.file.structs.at(0).fields.size() == 2);
}

TEST_CASE("parser: no cascade after a lexer error") {
    Parsed parsed = parse_text("package p;\nstruct A { u8 a$; u8 b; }\n");
    REQUIRE(parsed.diagnostics.size() == 1);
    CHECK(parsed.diagnostics[0].code == DiagnosticCode::InvalidCharacter);
    CHECK_FALSE(parsed.result.syntax_ok);
}

TEST_CASE("parser: helpful messages for common slips") {
    SUBCASE("missing package") {
        Parsed parsed = parse_text("struct A { u8 a; }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].message.find("expected `package`") == 0);
        CHECK(parsed.result.file.structs.size() == 1);
    }
    SUBCASE("`;` after a closing brace") {
        Parsed parsed = parse_text("package p;\nstruct A { u8 a; };\nstruct B { u8 b; }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].location.column == 19);
        CHECK(parsed.diagnostics[0].hint.find("remove the `;`") != std::string::npos);
        CHECK(parsed.result.file.structs.size() == 2);
    }
    SUBCASE("C-style array") {
        Parsed parsed = parse_text("package p;\nstruct A { u8 a[4]; u8 b; }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].hint == "an array's size goes with its type: `u8[N] a`");
        CHECK(parsed.result.file.structs.at(0).fields.size() == 2);
    }
    SUBCASE("enum member without a value") {
        Parsed parsed = parse_text("package p;\nenum E : u8 { a, b = 2 }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].location.column == 16);
        CHECK(parsed.result.file.enums.at(0).members.size() == 1);
    }
    SUBCASE("missing comma between enum members") {
        Parsed parsed = parse_text("package p;\nenum E : u8 { a = 1 b = 2 }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.result.file.enums.at(0).members.size() == 2);
    }
    SUBCASE("`initial` without `state`") {
        Parsed parsed = parse_text("package p;\ncontract C { message M(); initial S { send M -> end; } }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].message == "expected `state` after `initial`, found identifier `S`");
    }
    SUBCASE("array without a size") {
        Parsed parsed = parse_text("package p;\nstruct A { u8[] a; }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].hint.find("bytes") != std::string::npos);
    }
}

TEST_CASE("parser: an empty file and a file of only a package") {
    Parsed empty = parse_text("");
    REQUIRE(empty.diagnostics.size() == 1);
    CHECK(empty.diagnostics[0].message == "expected `package` declaration at the start of the file, found end of file");
    Parsed package_only = parse_text("package a.b.c;\n");
    CHECK(package_only.diagnostics.empty());
    CHECK(package_only.result.file.package.size() == 3);
    // Keywords of the contract language are fine as package components.
    Parsed keywords = parse_text("package demo.message.bytes;\n");
    CHECK(keywords.diagnostics.empty());
    CHECK(keywords.result.file.package == std::vector<std::string>{"demo", "message", "bytes"});
}

TEST_CASE("parser: garbage never loops and always terminates with errors") {
    for (const char* text : {"package p; } } } ;;;", "package p; contract { { { ", "package p; enum E : u8 { = = , , }",
                             "package p; contract C { state S { send -> -> ; } message ( ; }", "package",
                             "package p; struct S { u8[ a; }", "package p. ; struct", "package p; [[[[ ))))"}) {
        CAPTURE(text);
        Parsed parsed = parse_text(text);
        CHECK_FALSE(parsed.diagnostics.empty());
        CHECK_FALSE(parsed.result.syntax_ok);
    }
}

namespace {

// The states of the one contract of `parsed`, each as "Name: send M -> T, ...".
std::vector<std::string> states_of(const Parsed& parsed) {
    std::vector<std::string> out;
    for (const milkc::StateDecl& state : parsed.result.file.contracts.at(0).states) {
        std::string line = state.name + ":";
        for (const milkc::Transition& transition : state.transitions)
            line += std::string(transition.direction == milkc::Direction::Send ? " send " : " recv ") +
                    transition.message + " -> " + transition.target + ";";
        out.push_back(line);
    }
    return out;
}

}  // namespace

TEST_CASE("parser: a sequence is the states it implies, named after the state and the message") {
    Parsed sugar = parse_text(R"(package p;
contract Files {
  message Open(); message Opened(); message Failed(); message Read(); message Data(); message Close();
  initial state Idle {
    send Open -> (recv Opened -> Ready | recv Failed -> Idle);
  }
  state Ready {
    send Read -> recv Data -> Ready;
    send Close -> end;
  }
}
)");
    REQUIRE(sugar.diagnostics.empty());
    Parsed plain = parse_text(R"(package p;
contract Files {
  message Open(); message Opened(); message Failed(); message Read(); message Data(); message Close();
  initial state Idle { send Open -> Idle_Open; }
  state Idle_Open { recv Opened -> Ready; recv Failed -> Idle; }
  state Ready { send Read -> Ready_Read; send Close -> end; }
  state Ready_Read { recv Data -> Ready; }
}
)");
    REQUIRE(plain.diagnostics.empty());
    // The same states in the same order: each implied one right after the
    // state whose sequence implies it.
    CHECK(states_of(sugar) == states_of(plain));
    const milkc::StateDecl& implied = sugar.result.file.contracts.at(0).states.at(1);
    CHECK(implied.implied_by == "the state after `send Open` in `Idle`");
    CHECK(implied.location.line == 5);
    CHECK(implied.location.column == 5);
    CHECK(sugar.result.file.contracts.at(0).states.at(0).implied_by.empty());
}

TEST_CASE("parser: sequences nest, and a group's branches may go on") {
    Parsed parsed = parse_text(R"(package p;
contract C {
  message A(); message B(); message C(); message D();
  initial state S {
    send A -> (recv B -> send C -> recv D -> S | recv C -> end);
  }
}
)");
    REQUIRE(parsed.diagnostics.empty());
    CHECK(states_of(parsed) == std::vector<std::string>{
                                   "S: send A -> S_A;",
                                   "S_A: recv B -> S_A_B; recv C -> end;",
                                   "S_A_B: send C -> S_A_B_C;",
                                   "S_A_B_C: recv D -> S;",
                               });
}

TEST_CASE("parser: a broken sequence is one error") {
    SUBCASE("a group left open") {
        Parsed parsed = parse_text("package p;\ncontract C { message A(); message B();\n"
                                   "initial state S { send A -> (recv B -> S; } }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].message == "expected `)` to close the group after `send A`, found `;`");
        CHECK_FALSE(parsed.result.syntax_ok);
    }
    SUBCASE("a branch that is no step") {
        Parsed parsed = parse_text("package p;\ncontract C { message A(); message B();\n"
                                   "initial state S { send A -> (S | recv B -> S); } }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].message ==
              "expected `send` or `recv` to start a branch of the group after `send A`, found identifier `S`");
    }
    SUBCASE("nothing after the arrow") {
        Parsed parsed = parse_text("package p;\ncontract C { message A();\ninitial state S { send A -> ; } }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].message ==
              "expected a target state name, `end`, a next step or a group after `->`, found `;`");
    }
    SUBCASE("a sequence longer than a contract's states") {
        std::string chain;
        for (int i = 0; i < 200; ++i) chain += "send A -> recv B -> ";
        Parsed parsed = parse_text("package p;\ncontract C { message A(); message B();\ninitial state S { " + chain +
                                   "S; } }\n");
        REQUIRE(parsed.diagnostics.size() == 1);
        CHECK(parsed.diagnostics[0].code == DiagnosticCode::TooMany);
        CHECK_FALSE(parsed.result.syntax_ok);
    }
}

TEST_CASE("parser: `close` marks a state where the speaker may hang up, `close` stays a name elsewhere") {
    Parsed parsed = parse_text(R"(package p;
struct close { u8 close; }
contract Session {
  message Ping(close close);
  initial state Open {
    send Ping -> Open;
    close;
  }
  state Done { close; }
  state Plain { send Ping -> end; }
}
)");
    INFO(parsed.diagnostics.size());
    REQUIRE(parsed.diagnostics.empty());
    const auto& states = parsed.result.file.contracts.at(0).states;
    CHECK(states.at(0).may_close);
    CHECK(states.at(0).close_location.line == 7);
    CHECK(states.at(0).transitions.size() == 1);
    CHECK(states.at(1).may_close);
    CHECK(states.at(1).transitions.empty());
    CHECK_FALSE(states.at(2).may_close);

    Parsed missing = parse_text("package p;\ncontract C { message M(); initial state S { close } }\n");
    REQUIRE_FALSE(missing.diagnostics.empty());
    CHECK(missing.diagnostics.front().code == DiagnosticCode::SyntaxError);
    CHECK(missing.diagnostics.front().message.find("after `close`") != std::string::npos);
}

TEST_CASE("parser: a protocol holds states, a call names it and where it returns to") {
    Parsed parsed = parse_text(R"(package p;
contract Shell {
  message Login(); message Challenge(); message Response(); message Logout();
  protocol Auth {
    state Ask { recv Challenge -> Answer; }
    state Answer { send Response -> return; }
  }
  initial state Idle { send Login -> Auth -> Ready; }
  state Ready { send Logout -> end; }
}
)");
    REQUIRE(parsed.diagnostics.empty());
    const milkc::ContractDecl& contract = parsed.result.file.contracts.at(0);
    REQUIRE(contract.protocols.size() == 1);
    CHECK(contract.protocols.at(0).name == "Auth");
    CHECK(contract.protocols.at(0).states.size() == 2);
    CHECK(contract.protocols.at(0).states.at(1).transitions.at(0).target == "return");
    // The protocol's states are not the contract's.
    CHECK(contract.states.size() == 2);
    const milkc::Transition& call = contract.states.at(0).transitions.at(0);
    CHECK(call.call == "Auth");
    CHECK(call.target == "Ready");
    CHECK(call.call_location.line == 8);

    // `protocol` and `return` stay names elsewhere; `initial` has no place in
    // a protocol.
    Parsed names = parse_text("package p;\nstruct protocol { u8 x; }\ncontract C { message protocol(protocol p); "
                              "initial state S { send protocol -> end; } }\n");
    CHECK(names.diagnostics.empty());
    Parsed initial = parse_text("package p;\ncontract C { message M(); protocol P { initial state S { send M -> "
                                "return; } } initial state A { send M -> P -> end; } }\n");
    REQUIRE_FALSE(initial.diagnostics.empty());
    CHECK(initial.diagnostics.front().hint.find("a protocol starts in its first state") != std::string::npos);
}

TEST_CASE("parser: `entry state` marks where a conversation may also start, `entry` stays a name") {
    Parsed parsed = parse_text(R"(package p;
struct entry { u8 entry; }
contract C {
  message entry(entry e);
  initial state S { send entry -> T; }
  entry state T { send entry -> end; }
}
)");
    REQUIRE(parsed.diagnostics.empty());
    const auto& states = parsed.result.file.contracts.at(0).states;
    CHECK(states.at(0).is_initial());
    CHECK(states.at(1).is_entry());
    CHECK(states.at(1).starts_conversations());
}
