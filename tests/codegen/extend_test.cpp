// Contract extension (codegen/extend.cpp): a contract that extends another
// is the base's messages and states, then its own, before any check runs.
#include "check_text.hpp"
#include "frontend.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

using milkc::DiagnosticCode;

using milkc::testing::check_text;
using milkc::testing::Checked;

const milkc::ContractDecl& contract_named(const milkc::File& file, const std::string& name) {
    for (const milkc::ContractDecl& contract : file.contracts)
        if (contract.name == name) return contract;
    FAIL("no contract " << name);
    return file.contracts.front();
}

}  // namespace

TEST_CASE("extend: the base's messages keep their tags, its states their numbers, and the contract adds to them") {
    // The derived contract comes first: the order in the file does not matter.
    Checked checked = check_text(R"(package p;
contract Logged extends Store {
  message Flush();
  message Flushed();
  state Ready { send Flush -> Flushing; }
  state Flushing { recv Flushed -> Ready; }
}
contract Store {
  message Put(u32 value);
  message Done();
  initial state Ready { send Put -> Putting; send Done -> end; }
  state Putting { recv Done -> Ready; }
}
)");
    INFO((checked.diagnostics.empty() ? std::string() : checked.diagnostics.front().message));
    REQUIRE(checked.file.has_value());
    const milkc::ContractDecl& logged = contract_named(*checked.file, "Logged");
    REQUIRE(logged.messages.size() == 4);
    CHECK(logged.messages[0].name == "Put");
    CHECK(logged.messages[0].tag == 1);
    CHECK(logged.messages[1].name == "Done");
    CHECK(logged.messages[1].tag == 2);
    CHECK(logged.messages[2].name == "Flush");
    CHECK(logged.messages[2].tag == 3);
    REQUIRE(logged.states.size() == 3);
    CHECK(logged.states[0].name == "Ready");
    CHECK(logged.states[0].is_initial());
    // The base's two transitions, then the one the contract adds.
    REQUIRE(logged.states[0].transitions.size() == 3);
    CHECK(logged.states[0].transitions[2].message == "Flush");
    CHECK(logged.states[1].name == "Putting");
    CHECK(logged.states[2].name == "Flushing");
    CHECK(logged.states[2].index == 2);
    // The base is unchanged.
    const milkc::ContractDecl& store = contract_named(*checked.file, "Store");
    CHECK(store.messages.size() == 2);
    CHECK(store.states.at(0).transitions.size() == 2);
}

TEST_CASE("extend: a chain of extensions, and sequences in the extension") {
    Checked checked = check_text(R"(package p;
contract A { message Ping(); message Pong(); initial state Idle { send Ping -> recv Pong -> Idle; } }
contract B extends A { message Bye(); state Idle { send Bye -> end; } }
contract C extends B { message Stat(); message Stats(u32 count); state Idle { send Stat -> recv Stats -> Idle; } }
)");
    INFO((checked.diagnostics.empty() ? std::string() : checked.diagnostics.front().message));
    REQUIRE(checked.file.has_value());
    const milkc::ContractDecl& c = contract_named(*checked.file, "C");
    CHECK(c.messages.size() == 5);
    REQUIRE(c.states.size() == 3);
    CHECK(c.states[0].transitions.size() == 3);
    CHECK(c.states[1].name == "Idle_Ping");
    CHECK(c.states[2].name == "Idle_Stat");
}

TEST_CASE("extend: an unknown base and a cycle are one error each, and nothing else is checked") {
    SUBCASE("unknown base") {
        Checked checked = check_text("package p;\ncontract B extends Nowhere { message M(); initial state S { send M -> end; } }\n");
        REQUIRE(checked.diagnostics.size() == 1);
        CHECK(checked.diagnostics[0].code == DiagnosticCode::UnknownBase);
        CHECK(checked.diagnostics[0].location.line == 2);
        CHECK(checked.diagnostics[0].location.column == 20);
        CHECK_FALSE(checked.file.has_value());
    }
    SUBCASE("a cycle of two") {
        Checked checked = check_text("package p;\ncontract A extends B { }\ncontract B extends A { }\n");
        REQUIRE(checked.diagnostics.size() == 1);
        CHECK(checked.diagnostics[0].code == DiagnosticCode::ExtensionCycle);
        CHECK(checked.diagnostics[0].message ==
              "contract `B` extends `A`, which extends `B` in turn: a contract cannot extend itself");
    }
    SUBCASE("itself") {
        Checked checked = check_text("package p;\ncontract A extends A { }\n");
        REQUIRE(checked.diagnostics.size() == 1);
        CHECK(checked.diagnostics[0].message == "contract `A` extends itself");
    }
    SUBCASE("a message the base has already") {
        Checked checked = check_text("package p;\ncontract A { message M(); initial state S { send M -> end; } }\n"
                                     "contract B extends A { message M(); }\n");
        REQUIRE(checked.diagnostics.size() == 1);
        CHECK(checked.diagnostics[0].code == DiagnosticCode::DuplicateMessage);
        CHECK(checked.diagnostics[0].location.line == 3);
    }
    SUBCASE("`extends` is still a name elsewhere") {
        Checked checked = check_text("package p;\nstruct S { u8 extends; }\n"
                                     "contract A { message extends(S s); initial state S1 { send extends -> end; } }\n");
        CHECK(checked.diagnostics.empty());
    }
}
