// Unit tests of the semantic checks, through parse_and_check: every check's
// diagnostic, what the checks fill into the tree, and that one mistake does
// not drag follow-up diagnostics behind it.
#include "checks.hpp"
#include "generated_names.hpp"
#include "check_text.hpp"
#include "frontend.hpp"
#include "layout.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

using milkc::DiagnosticCode;

using milkc::testing::check_text;
using milkc::testing::Checked;

std::vector<DiagnosticCode> codes(const Checked& checked) {
    std::vector<DiagnosticCode> out;
    for (const milkc::Diagnostic& diagnostic : checked.diagnostics) out.push_back(diagnostic.code);
    return out;
}

// Exactly one diagnostic, of `code`, at `line`:`column`.
void require_one(const Checked& checked, DiagnosticCode code, std::uint32_t line, std::uint32_t column) {
    CAPTURE(checked.diagnostics.size());
    REQUIRE(checked.diagnostics.size() == 1);
    const milkc::Diagnostic& diagnostic = checked.diagnostics[0];
    CAPTURE(diagnostic.message);
    CHECK(diagnostic.code == code);
    CHECK(diagnostic.location.line == line);
    CHECK(diagnostic.location.column == column);
    CHECK_FALSE(checked.file.has_value());
}

// A contract around `body` that is otherwise fine.
std::string contract(const std::string& body) { return "package p;\ncontract C {\n" + body + "}\n"; }

}  // namespace

TEST_CASE("checks: a good file resolves names and numbers messages and states") {
    Checked checked = check_text(R"(package p;
enum Mode : u8 { fast = 1, safe = 2 }
struct Point { i32 x; i32 y; }
struct Line { Point[2] ends; Mode mode; }
contract C {
  message Draw(Line line, bytes label);
  message Done(bool ok);
  message Quit();
  state Busy { recv Done -> Idle; }
  initial state Idle { send Draw -> Busy; send Quit -> end; }
}
contract D {
  message M();
  initial state S { send M -> end; }
}
)");
    REQUIRE(checked.diagnostics.empty());
    REQUIRE(checked.file.has_value());
    const milkc::File& file = *checked.file;
    const milkc::TypeRef& ends = file.structs[1].fields[0].type;
    CHECK(ends.element->resolved_struct == &file.structs[0]);
    CHECK(ends.element->resolved_enum == nullptr);
    CHECK(file.structs[1].fields[1].type.resolved_enum == &file.enums[0]);

    const milkc::ContractDecl& c = file.contracts[0];
    CHECK(c.messages[0].fields[0].type.resolved_struct == &file.structs[1]);
    CHECK(c.messages[0].tag == 1);
    CHECK(c.messages[1].tag == 2);
    CHECK(c.messages[2].tag == 3);
    CHECK(c.states[0].index == 0);
    CHECK(c.states[1].index == 1);
    CHECK(c.initial == &c.states[1]);
    const milkc::Transition& draw = c.states[1].transitions[0];
    CHECK(draw.resolved_message == &c.messages[0]);
    CHECK(draw.resolved_target == &c.states[0]);
    const milkc::Transition& quit = c.states[1].transitions[1];
    CHECK(quit.resolved_message == &c.messages[2]);
    CHECK(quit.resolved_target == nullptr);
    CHECK(file.contracts[1].initial == &file.contracts[1].states[0]);
    CHECK(file.contracts[1].messages[0].tag == 1);
    // The layout is computable once the checks passed.
    CHECK(milkc::layout_of(c.messages[0]).size == 8 + 4 + 4 + 4 + 8);
}

TEST_CASE("checks: duplicate names") {
    SUBCASE("E0010 types share one namespace") {
        Checked checked = check_text("package p;\nstruct A { u8 a; }\nenum A : u8 { x = 1 }\n");
        require_one(checked, DiagnosticCode::DuplicateType, 3, 6);
        CHECK(checked.diagnostics[0].message.find("a struct declared at line 2") != std::string::npos);
    }
    SUBCASE("E0010 a contract and a struct") {
        Checked checked = check_text("package p;\ncontract A { message M(); initial state S { send M -> end; } }\n"
                                     "struct A { u8 a; }\n");
        require_one(checked, DiagnosticCode::DuplicateType, 3, 8);
    }
    SUBCASE("E0011 fields") {
        require_one(check_text("package p;\nstruct A { u8 a; u16 a; }\n"), DiagnosticCode::DuplicateField, 2, 22);
        require_one(check_text(contract("message M(u8 a, u8 a);\ninitial state S { send M -> end; }\n")),
                    DiagnosticCode::DuplicateField, 3, 20);
    }
    SUBCASE("E0012 messages") {
        require_one(check_text(contract("message M();\nmessage M(u8 a);\ninitial state S { send M -> end; }\n")),
                    DiagnosticCode::DuplicateMessage, 4, 9);
    }
    SUBCASE("E0013 states") {
        require_one(check_text(contract("message M();\ninitial state S { send M -> S; }\nstate S { send M -> end; }\n")),
                    DiagnosticCode::DuplicateState, 5, 7);
    }
    SUBCASE("E0014 enum members") {
        require_one(check_text("package p;\nenum E : u8 { a = 1, a = 2 }\n"), DiagnosticCode::DuplicateEnumMember, 2, 22);
    }
    SUBCASE("E0015 enum values") {
        require_one(check_text("package p;\nenum E : u8 { a = 1, b = 0x1 }\n"), DiagnosticCode::DuplicateEnumValue, 2, 22);
    }
    SUBCASE("E0016 transitions") {
        require_one(check_text(contract("message M();\ninitial state S { send M -> S; send M -> end; }\n")),
                    DiagnosticCode::DuplicateTransition, 4, 37);
    }
}

TEST_CASE("checks: unknown names") {
    SUBCASE("E0020 unknown type, with a suggestion") {
        Checked checked = check_text("package p;\nstruct Point { u8 a; }\nstruct A { Pont p; }\n");
        require_one(checked, DiagnosticCode::UnknownType, 3, 12);
        CHECK(checked.diagnostics[0].hint == "did you mean `Point`?");
    }
    SUBCASE("E0020 no suggestion when nothing is close") {
        Checked checked = check_text("package p;\nstruct Point { u8 a; }\nstruct A { Zebra z; }\n");
        require_one(checked, DiagnosticCode::UnknownType, 3, 12);
        CHECK(checked.diagnostics[0].hint.empty());
    }
    SUBCASE("E0020 a contract is not a field type") {
        Checked checked = check_text("package p;\ncontract K { message M(); initial state S { send M -> end; } }\n"
                                     "struct A { K k; }\n");
        require_one(checked, DiagnosticCode::UnknownType, 3, 12);
        CHECK(checked.diagnostics[0].message.find("is a contract") != std::string::npos);
    }
    SUBCASE("E0020 inside an array") {
        require_one(check_text("package p;\nstruct A { Nope[2] n; }\n"), DiagnosticCode::UnknownType, 2, 12);
    }
    SUBCASE("E0021 unknown message") {
        Checked checked = check_text(contract("message Ping();\ninitial state S { send Pong -> end; send Ping -> end; }\n"));
        require_one(checked, DiagnosticCode::UnknownMessage, 4, 24);
    }
    SUBCASE("E0022 unknown state, and no unreachable-state echo") {
        Checked checked = check_text(contract("message M();\ninitial state S { send M -> Wating; }\n"
                                              "state Waiting { recv M -> end; }\n"));
        require_one(checked, DiagnosticCode::UnknownState, 4, 29);
        CHECK(checked.diagnostics[0].hint == "did you mean `Waiting`?");
    }
    SUBCASE("a swap of two letters is one edit") {
        Checked checked = check_text(contract("message M();\ninitial state Idle { send M -> Idel; }\n"));
        require_one(checked, DiagnosticCode::UnknownState, 4, 32);
        CHECK(checked.diagnostics[0].hint == "did you mean `Idle`?");
    }
}

TEST_CASE("checks: state machine rules") {
    SUBCASE("E0030 mixed directions, once per state") {
        Checked checked = check_text(contract("message A();\nmessage B();\nmessage D();\n"
                                              "initial state S { send A -> end; recv B -> end; recv D -> end; }\n"));
        require_one(checked, DiagnosticCode::MixedDirections, 6, 34);
    }
    SUBCASE("E0031 unreachable, also through a cycle that never starts") {
        Checked checked = check_text(contract("message M();\ninitial state S { send M -> end; }\n"
                                              "state T { send M -> U; }\nstate U { recv M -> T; }\n"));
        CHECK(codes(checked) == std::vector{DiagnosticCode::UnreachableState, DiagnosticCode::UnreachableState});
        CHECK(checked.diagnostics[0].location.line == 5);
        CHECK(checked.diagnostics[1].location.line == 6);
    }
    SUBCASE("E0032 missing initial") {
        Checked checked = check_text(contract("message M();\nstate S { send M -> end; }\n"));
        require_one(checked, DiagnosticCode::MissingInitial, 2, 10);
        CHECK(checked.diagnostics[0].hint.find("initial state S") != std::string::npos);
    }
    SUBCASE("E0032 a contract without states") {
        require_one(check_text(contract("message M();\n")), DiagnosticCode::MissingInitial, 2, 10);
    }
    SUBCASE("E0033 duplicate initial, and no unreachable-state guess") {
        Checked checked = check_text(contract("message M();\ninitial state S { send M -> end; }\n"
                                              "initial state T { send M -> end; }\n"));
        require_one(checked, DiagnosticCode::DuplicateInitial, 5, 15);
    }
}

TEST_CASE("checks: sizes and layout") {
    SUBCASE("56 bytes fit, 57 do not") {
        Checked fits = check_text(contract("message M(u8[56] a);\ninitial state S { send M -> end; }\n"));
        CHECK(fits.diagnostics.empty());
        Checked too_large = check_text(contract("message M(u8[57] a);\ninitial state S { send M -> end; }\n"));
        require_one(too_large, DiagnosticCode::MessageTooLarge, 3, 9);
        CHECK(too_large.diagnostics[0].message.find("57 bytes") != std::string::npos);
        CHECK(too_large.diagnostics[0].hint == "move large data into a `bytes` field");
    }
    SUBCASE("padding counts") {
        // u8 at 0, u64 at 8 .. 48 bytes, then u8 at 48, size 56 with padding: fits; one more u64 does not.
        CHECK(check_text(contract("message M(u8 a, u64[5] b, u8 c);\ninitial state S { send M -> end; }\n"))
                  .diagnostics.empty());
        require_one(check_text(contract("message M(u8 a, u64[6] b, u8 c);\ninitial state S { send M -> end; }\n")),
                    DiagnosticCode::MessageTooLarge, 3, 9);
    }
    SUBCASE("huge arrays do not wrap around") {
        require_one(check_text(contract("message M(u64[0x2000000000000001] a);\ninitial state S { send M -> end; }\n")),
                    DiagnosticCode::MessageTooLarge, 3, 9);
        require_one(check_text(contract("message M(u8[0x100000000][0x100000000][0x100000000] a);\n"
                                        "initial state S { send M -> end; }\n")),
                    DiagnosticCode::MessageTooLarge, 3, 9);
    }
    SUBCASE("a struct too large for any message is reported once, at the struct") {
        Checked checked = check_text("package p;\nstruct Big { u64[8] a; }\n"
                                     "contract C { message M(Big b); initial state S { send M -> end; } }\n");
        require_one(checked, DiagnosticCode::MessageTooLarge, 2, 8);
        CHECK(checked.diagnostics[0].hint.find("`bytes`") != std::string::npos);
    }
    SUBCASE("a struct too large because it holds one is not reported again, in either order") {
        require_one(check_text("package p;\nstruct Outer { u8 a; Big big; }\nstruct Big { u64[8] a; }\n"
                               "contract C { message M(Outer o); initial state S { send M -> end; } }\n"),
                    DiagnosticCode::MessageTooLarge, 3, 8);
        require_one(check_text("package p;\nstruct Big { u64[8] a; }\nstruct Outer { u8 a; Big[2] big; }\n"),
                    DiagnosticCode::MessageTooLarge, 2, 8);
    }
    SUBCASE("a struct that fits, in a message that does not") {
        require_one(check_text("package p;\nstruct Half { u64[4] a; }\n"
                               "contract C { message M(Half a, Half b); initial state S { send M -> end; } }\n"),
                    DiagnosticCode::MessageTooLarge, 3, 22);
    }
    SUBCASE("E0041 enum values must fit the underlying type") {
        CHECK(check_text("package p;\nenum E : u8 { a = 255 }\nenum F : u64 { a = 0xffffffffffffffff }\n")
                  .diagnostics.empty());
        require_one(check_text("package p;\nenum E : u8 { a = 256 }\n"), DiagnosticCode::EnumValueOverflow, 2, 15);
        require_one(check_text("package p;\nenum E : u16 { a = 65536 }\n"), DiagnosticCode::EnumValueOverflow, 2, 16);
        require_one(check_text("package p;\nenum E : u32 { a = 0x100000000 }\n"), DiagnosticCode::EnumValueOverflow,
                    2, 16);
    }
    SUBCASE("E0045 does not also report the values as too large") {
        Checked checked = check_text("package p;\nenum E : i8 { a = 300 }\n");
        require_one(checked, DiagnosticCode::BadEnumUnderlying, 2, 10);
    }
    SUBCASE("E0042 zero-sized arrays, also nested") {
        require_one(check_text("package p;\nstruct A { u8[0] a; }\n"), DiagnosticCode::ZeroArraySize, 2, 15);
        require_one(check_text("package p;\nstruct A { u8[2][0] a; }\n"), DiagnosticCode::ZeroArraySize, 2, 18);
    }
    SUBCASE("E0043 recursive structs, reported once per cycle") {
        require_one(check_text("package p;\nstruct A { u8 x; A self; }\n"), DiagnosticCode::RecursiveStruct, 2, 18);
        Checked checked = check_text("package p;\nstruct A { B b; }\nstruct B { C[2] c; }\nstruct C { A a; }\n"
                                     "struct D { A a; }\n"
                                     "contract K { message M(D d); initial state S { send M -> end; } }\n");
        require_one(checked, DiagnosticCode::RecursiveStruct, 4, 12);
        CHECK(checked.diagnostics[0].message == "struct `A` contains itself: `A` -> `B` -> `C` -> `A`");
    }
    SUBCASE("E0044 bytes only as a direct message field") {
        require_one(check_text("package p;\nstruct A { bytes b; }\n"), DiagnosticCode::BytesNotAllowedHere, 2, 12);
        require_one(check_text(contract("message M(bytes[2] b);\ninitial state S { send M -> end; }\n")),
                    DiagnosticCode::BytesNotAllowedHere, 3, 11);
    }
    SUBCASE("E0046 and E0047 empty enums and structs") {
        require_one(check_text("package p;\nenum E : u8 {}\n"), DiagnosticCode::EmptyEnum, 2, 6);
        require_one(check_text("package p;\nstruct S {}\n"), DiagnosticCode::EmptyStruct, 2, 8);
        // A message may be empty: it is a tag alone.
        CHECK(check_text(contract("message M();\ninitial state S { send M -> end; }\n")).diagnostics.empty());
    }
    SUBCASE("E0048 a flag that is not a single bit") {
        require_one(check_text("package p;\nenum F : flags u8 { a = 1, b = 6 }\n"), DiagnosticCode::FlagNotABit, 2, 28);
        require_one(check_text("package p;\nenum F : flags u8 { none = 0 }\n"), DiagnosticCode::FlagNotABit, 2, 21);
        // Single bits of every width are fine, and `flags` stays a name
        // elsewhere (a field, a plain enum's member).
        const auto fine = check_text(
            "package p;\nenum F : flags u64 { low = 1, top = 9223372036854775808 }\n"
            "enum G : u8 { flags = 3 }\nstruct S { F flags; G g; }\n");
        CHECK(fine.diagnostics.empty());
        REQUIRE(fine.file.has_value());
        CHECK(fine.file->enums[0].is_flags());
        CHECK(fine.file->enums[0].mask() == 9223372036854775809ULL);
        CHECK_FALSE(fine.file->enums[1].is_flags());
    }
}

TEST_CASE("checks: no follow-up diagnostics from an unresolved or broken type") {
    // An unknown type inside a struct does not make its messages "too large"
    // or anything else: one diagnostic.
    Checked checked = check_text("package p;\nstruct A { Unknown[100] u; }\n"
                                 "contract C { message M(A a, u8[60] b); initial state S { send M -> end; } }\n");
    require_one(checked, DiagnosticCode::UnknownType, 2, 12);
}

TEST_CASE("checks: E0060 reserved names") {
    SUBCASE("a C++ keyword as a field") {
        Checked checked = check_text(contract("message M(u8 class);\ninitial state S { send M -> end; }\n"));
        require_one(checked, DiagnosticCode::ReservedName, 3, 14);
        CHECK(checked.diagnostics[0].message == "field name `class` is reserved: it is a keyword of C++ or C");
    }
    SUBCASE("a generated name as a message") {
        require_one(check_text(contract("message Client();\ninitial state S { send Client -> end; }\n")),
                    DiagnosticCode::ReservedName, 3, 9);
    }
    SUBCASE("a generated name is fine as a field or a state") {
        CHECK(check_text(contract("message M(u8 client);\ninitial state Server { send M -> end; }\n"))
                  .diagnostics.empty());
    }
    SUBCASE("package components") {
        require_one(check_text("package std.x;\n"), DiagnosticCode::ReservedName, 1, 9);
        require_one(check_text("package x.delete;\n"), DiagnosticCode::ReservedName, 1, 9);
        CHECK(check_text("package x.std;\n").diagnostics.empty());
    }
    CHECK(milkc::reserved_name_reason("errno", milkc::NameRole::Field).has_value());
    CHECK(milkc::reserved_name_reason("current", milkc::NameRole::Field).has_value());
    CHECK(milkc::reserved_name_reason("a__b", milkc::NameRole::State).has_value());
    CHECK(milkc::reserved_name_reason("_Upper", milkc::NameRole::EnumMember).has_value());
    CHECK_FALSE(milkc::reserved_name_reason("_lower", milkc::NameRole::Field).has_value());
    CHECK(milkc::reserved_name_reason("protocol", milkc::NameRole::Type).has_value());
    CHECK_FALSE(milkc::reserved_name_reason("protocol", milkc::NameRole::Field).has_value());
    CHECK(milkc::reserved_name_reason("co_await", milkc::NameRole::EnumMember).has_value());
    CHECK_FALSE(milkc::reserved_name_reason("payload", milkc::NameRole::Field).has_value());
}

TEST_CASE("checks: E0060 covers every name the C++ emitter declares in a contract's namespace") {
    for (std::string_view name : milkc::contract_scope_names) {
        CAPTURE(name);
        CHECK(milkc::reserved_name_reason(name, milkc::NameRole::Message).has_value());
        CHECK(milkc::reserved_name_reason(name, milkc::NameRole::Type).has_value());
    }
    CHECK(milkc::reserved_name_reason("milk_encode", milkc::NameRole::Message).has_value());
    CHECK(milkc::reserved_name_reason("milk_anything", milkc::NameRole::Type).has_value());
    CHECK_FALSE(milkc::reserved_name_reason("milk_level", milkc::NameRole::Field).has_value());
}

TEST_CASE("checks: no checks run on a file with syntax errors") {
    // The broken struct would otherwise be an unknown type at its use.
    Checked checked = check_text("package p;\nstruct A { u8 ; }\nstruct B { A a; Nope n; }\n");
    require_one(checked, DiagnosticCode::SyntaxError, 2, 15);
}

TEST_CASE("checks: diagnostics come out in source order, all of them") {
    Checked checked = check_text(R"(package p;
contract C {
  message M(u8 a, u8 a);
  state S { send X -> end; }
}
struct Z { bytes b; }
enum E : u8 { a = 300 }
)");
    CHECK(codes(checked) == std::vector{DiagnosticCode::MissingInitial, DiagnosticCode::DuplicateField,
                                        DiagnosticCode::UnknownMessage, DiagnosticCode::BytesNotAllowedHere,
                                        DiagnosticCode::EnumValueOverflow});
}

TEST_CASE("diagnostics: rendering") {
    milkc::SourceFile source("dir/x.contract", "package p;\n\tstruct A { caf\xc3\xa9 }\n");
    milkc::DiagnosticSink sink(source);
    sink.error(DiagnosticCode::UnknownType, {2, 19}, "here", "a hint");
    sink.error(DiagnosticCode::SyntaxError, {3, 1}, "past the end");
    CHECK(sink.render() ==
          "dir/x.contract:2:19: error[E0020]: here\n"
          " 2 | \tstruct A { caf\xc3\xa9 }\n"
          "   | \t                ^\n"
          "   = hint: a hint\n"
          "dir/x.contract:3:1: error[E0001]: past the end\n"
          " 3 |\n"
          "   | ^\n");
    CHECK(milkc::code_string(DiagnosticCode::ReservedName) == "E0060");
    CHECK(milkc::code_string(DiagnosticCode::SyntaxError) == "E0001");
}
