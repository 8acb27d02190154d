// A contract's identity (codegen/identity.hpp): the same protocol gives the
// same identity however it is written, and any change a peer would notice
// on the wire or in the protocol gives another.
#include "check_text.hpp"
#include "identity.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>

namespace {

std::optional<milkc::File> checked(std::string text) {
    milkc::testing::Checked result = milkc::testing::check_text(std::move(text));
    INFO(result.diagnostics.size());
    REQUIRE(result.file.has_value());
    return std::move(result.file);
}

// The identity of the file's contract named `name` (its only one by default).
std::uint32_t identity_of(const std::string& text, const std::string& name = "") {
    std::optional<milkc::File> file = checked(text);
    for (const milkc::ContractDecl& contract : file->contracts) {
        if (name.empty() || contract.name == name) return milkc::contract_identity(*file, contract);
    }
    FAIL("no contract " << name);
    return 0;
}

const char* const base = R"(package demo.id;
enum Mode : u8 { fast = 1, safe = 2 }
struct Point { i32 x; i32 y; }
contract Shapes {
  message Put(u32 id, Point where, Mode mode);
  message Done(u32 id);
  initial state Idle { send Put -> Busy; }
  state Busy { recv Done -> Idle; }
}
)";

std::string with(std::string text, const std::string& from, const std::string& to) {
    const std::size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("identity: the normalized form writes the protocol and every type it uses, in full") {
    std::optional<milkc::File> file = checked(base);
    CHECK(milkc::normalized_form(*file, file->contracts.front()) ==
          "contract demo.id.Shapes\n"
          "message 1 Put(u32 id, Point where, Mode mode)\n"
          "message 2 Done(u32 id)\n"
          "state 0 initial Idle { send Put -> Busy; }\n"
          "state 1 Busy { recv Done -> Idle; }\n"
          "struct Point { i32 x, i32 y }\n"
          "enum Mode : u8 { fast = 1; safe = 2; }\n");
    CHECK(milkc::identity_string(0x6b443ac0) == "0x6b443ac0");
    CHECK(milkc::identity_string(1) == "0x00000001");
}

TEST_CASE("identity: comments, layout and unused declarations do not change it") {
    const std::uint32_t identity = identity_of(base);
    CHECK(identity != 0);
    CHECK(identity_of(base) == identity);
    CHECK(identity_of(with(base, "contract Shapes {", "// A comment.\ncontract Shapes\n{\n")) == identity);
    CHECK(identity_of(with(base, "enum Mode", "enum Unused : u16 { a = 1 }\nenum Mode")) == identity);
    // Another contract beside it has an identity of its own.
    const std::string two = std::string(base) + "contract Other { message M(); initial state S { send M -> end; } }\n";
    CHECK(identity_of(two, "Shapes") == identity);
    CHECK(identity_of(two, "Other") != identity);
}

TEST_CASE("identity: any change a peer would notice changes it") {
    const std::uint32_t identity = identity_of(base);
    // The wire: a field's type, a used enum's values, a used struct's fields,
    // the order of messages (their tags).
    CHECK(identity_of(with(base, "message Done(u32 id)", "message Done(u64 id)")) != identity);
    CHECK(identity_of(with(base, "safe = 2", "safe = 4")) != identity);
    CHECK(identity_of(with(base, "struct Point { i32 x; i32 y; }", "struct Point { i32 x; i32 y; i32 z; }")) !=
          identity);
    CHECK(identity_of(with(with(base, "  message Put(u32 id, Point where, Mode mode);\n", ""), "  message Done(u32 id);\n",
                           "  message Done(u32 id);\n  message Put(u32 id, Point where, Mode mode);\n")) != identity);
    // The protocol: a transition's target, a new transition, the names.
    CHECK(identity_of(with(base, "recv Done -> Idle;", "recv Done -> end;")) != identity);
    CHECK(identity_of(with(base, "send Put -> Busy;", "send Put -> Busy; send Done -> end;")) != identity);
    CHECK(identity_of(with(base, "u32 id, Point", "u32 key, Point")) != identity);
    CHECK(identity_of(with(base, "package demo.id;", "package demo.other;")) != identity);
}
