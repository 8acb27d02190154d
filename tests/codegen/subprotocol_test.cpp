// Sub-protocols (codegen/subprotocol.hpp): each call is a copy of the
// protocol's states, and the diagnostics of misuse.
#include "check_text.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

using milkc::testing::check_text;

std::vector<std::string> state_names(const milkc::ContractDecl& contract) {
    std::vector<std::string> names;
    for (const milkc::StateDecl& state : contract.states) names.push_back(state.name);
    return names;
}

// Whether `text` has a diagnostic `code` whose message contains `part`.
bool reports(const std::string& text, milkc::DiagnosticCode code, const std::string& part) {
    for (const milkc::Diagnostic& diagnostic : check_text(text).diagnostics) {
        if (diagnostic.code == code && diagnostic.message.find(part) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("sub-protocols: each call is a copy right after its state, returning where the call says") {
    milkc::testing::Checked checked = check_text(R"(package p;
contract Shell {
  message Login(); message Challenge(); message Response(); message Sudo(); message Logout();
  protocol Auth {
    state Ask { recv Challenge -> Answer; }
    state Answer { send Response -> return; }
  }
  initial state Idle { send Login -> Auth -> Ready; }
  state Ready { send Sudo -> Auth -> Root; send Logout -> end; }
  state Root { send Logout -> end; }
}
)");
    INFO(checked.diagnostics.size());
    REQUIRE(checked.file.has_value());
    const milkc::ContractDecl& contract = checked.file->contracts.at(0);
    CHECK(state_names(contract) == std::vector<std::string>{"Idle", "Idle_Login_Ask", "Idle_Login_Answer", "Ready",
                                                            "Ready_Sudo_Ask", "Ready_Sudo_Answer", "Root"});
    CHECK(contract.states.at(0).transitions.at(0).target == "Idle_Login_Ask");
    CHECK(contract.states.at(0).transitions.at(0).call.empty());
    CHECK(contract.states.at(2).transitions.at(0).target == "Ready");
    CHECK(contract.states.at(5).transitions.at(0).target == "Root");
    CHECK(contract.states.at(1).implied_by == "state `Ask` of protocol `Auth`, as `send Login` in `Idle` calls it");
    CHECK_FALSE(contract.states.at(1).is_initial());
}

TEST_CASE("sub-protocols: a call inside a protocol is expanded in turn, and `return` passes through") {
    milkc::testing::Checked checked = check_text(R"(package p;
contract C {
  message A(); message B(); message Q();
  protocol Inner { state I { send B -> return; } }
  protocol Outer { state O { send A -> Inner -> return; } }
  initial state S { send A -> Outer -> T; }
  state T { send Q -> end; }
}
)");
    INFO(checked.diagnostics.size());
    REQUIRE(checked.file.has_value());
    const milkc::ContractDecl& contract = checked.file->contracts.at(0);
    CHECK(state_names(contract) == std::vector<std::string>{"S", "S_A_O", "S_A_O_A_I", "T"});
    CHECK(contract.states.at(1).transitions.at(0).target == "S_A_O_A_I");
    CHECK(contract.states.at(2).transitions.at(0).target == "T");
}

TEST_CASE("sub-protocols: misuse is diagnosed") {
    using milkc::DiagnosticCode;
    CHECK(reports(R"(package p;
contract C { message M(); protocol P { state S { send M -> return; } } initial state A { send M -> Q -> end; } }
)", DiagnosticCode::UnknownProtocol, "`Q` is no protocol of contract `C`"));
    CHECK(reports(R"(package p;
contract C {
  message M();
  protocol P { state S { send M -> R -> return; } }
  protocol R { state S { send M -> P -> return; } }
  initial state A { send M -> P -> end; }
}
)", DiagnosticCode::ProtocolRecursion, "protocol `P` calls itself, through `R`"));
    CHECK(reports(R"(package p;
contract C { message M(); protocol P { state S { send M -> return; } } initial state A { send M -> end; } }
)", DiagnosticCode::UnreachableState, "protocol `P` is never called"));
    CHECK(reports(R"(package p;
contract C { message M(); initial state A { send M -> return; } }
)", DiagnosticCode::UnknownState, "`return` in state `A`, which is no protocol's"));
    CHECK(reports(R"(package p;
contract C {
  message M();
  protocol P { state S { send M -> return; } }
  protocol P { state S { send M -> return; } }
  initial state A { send M -> P -> end; }
}
)", DiagnosticCode::DuplicateType, "two protocols named `P`"));
    // A protocol's rules hold in each copy: here a mixed state.
    CHECK(reports(R"(package p;
contract C {
  message M(); message N();
  protocol P { state S { send M -> return; recv N -> return; } }
  initial state A { send M -> P -> end; }
}
)", DiagnosticCode::MixedDirections, "state `A_M_S` (state `S` of protocol `P`, as `send M` in `A` calls it)"));
}
