// The model checker: passes what is right, catches each property's
// violation (on trees the structural checks would have rejected where no
// checked contract can violate it), and reports deterministically.
#include "backend_test_util.hpp"
#include "model_check.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using milkc::DiagnosticCode;
using milkc::ModelCheckOptions;
using milkc::ModelCheckReport;
using milkc::test::checked;
using milkc::test::unchecked;

const char* const ping_pong = R"(package demo.ping;
contract PingPong {
  message Ping(u32 seq);
  message Pong(u32 seq);
  message Bye();
  initial state Idle {
    send Ping -> Waiting;
    send Bye -> end;
  }
  state Waiting {
    recv Pong -> Idle;
  }
}
)";

ModelCheckReport check_first(milkc::test::Parsed& parsed, const ModelCheckOptions& options = {}) {
    REQUIRE(parsed.file.has_value());
    REQUIRE(!parsed.file->contracts.empty());
    return milkc::model_check(parsed.file->contracts.front(), parsed.sink, options);
}

std::size_t count_code(const milkc::DiagnosticSink& sink, DiagnosticCode code) {
    std::size_t count = 0;
    for (const milkc::Diagnostic& diagnostic : sink.diagnostics()) count += diagnostic.code == code ? 1 : 0;
    return count;
}

const milkc::Diagnostic& first_with(const milkc::DiagnosticSink& sink, DiagnosticCode code) {
    for (const milkc::Diagnostic& diagnostic : sink.diagnostics()) {
        if (diagnostic.code == code) return diagnostic;
    }
    FAIL("no diagnostic with code " << milkc::code_string(code) << " in:\n" << sink.render());
    return sink.diagnostics().front();  // not reached
}

}  // namespace

TEST_CASE("a well-formed contract passes and the report counts the composed system") {
    auto parsed = checked(ping_pong);
    ModelCheckReport report = check_first(*parsed);
    INFO(parsed->sink.render());
    CHECK(report.ok);
    CHECK_FALSE(parsed->sink.has_errors());
    CHECK(report.contract == "PingPong");
    CHECK(report.states == 2);
    CHECK(report.transitions == 3);
    // Idle/Idle, Waiting/Idle+[Ping], end/Idle+[Bye], Waiting/Waiting,
    // Waiting/Idle+[Pong] (client to answer), end/end: six configurations.
    CHECK(report.configurations == 6);
}

TEST_CASE("the queue bound limits how far the sender runs ahead") {
    const char* const burst = R"(package demo.burst;
contract Burst {
  message Item();
  message Done();
  initial state A { send Item -> B; }
  state B { send Item -> C; }
  state C { send Item -> D; }
  state D { recv Done -> end; }
}
)";
    auto parsed = checked(burst);
    ModelCheckReport one = check_first(*parsed, ModelCheckOptions{1});
    ModelCheckReport three = check_first(*parsed, ModelCheckOptions{3});
    INFO(parsed->sink.render());
    CHECK(one.ok);
    CHECK(three.ok);
    // With room for three, the client can be three messages ahead, which
    // adds configurations a bound of one never reaches.
    CHECK(three.configurations > one.configurations);
    // Bound 0 means "at least one": otherwise nothing could ever be sent.
    ModelCheckReport zero = check_first(*parsed, ModelCheckOptions{0});
    CHECK(zero.configurations == one.configurations);
}

TEST_CASE("a checked contract with a state without transitions deadlocks (E0050)") {
    const char* const stuck = R"(package demo.stuck;
contract Stuck {
  message Go();
  initial state Idle { send Go -> Stuck; }
  state Stuck { }
}
)";
    auto parsed = checked(stuck);  // the structural checks accept it
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    REQUIRE(count_code(parsed->sink, DiagnosticCode::Deadlock) == 1);
    const milkc::Diagnostic& deadlock = first_with(parsed->sink, DiagnosticCode::Deadlock);
    CHECK(deadlock.message ==
          "contract `Stuck` can deadlock: the client waits in state `Stuck` and the server waits in state `Stuck`, "
          "with no message in flight; reached after: client sends `Go`, server receives `Go`");
    CHECK(deadlock.hint == "state `Stuck` has no transitions; every state other than `end` needs at least one");
    CHECK(deadlock.location.line == 5);
    CHECK(count_code(parsed->sink, DiagnosticCode::UnspecifiedReception) == 0);
}

TEST_CASE("a race in a mixed-direction state is reported once, with both sides' paths (E0052)") {
    // Both may speak in A. If both do, each finds the other's message at the
    // head of its queue in a state that cannot take it: one race, not two
    // unspecified receptions.
    const char* const race = R"(package demo.race;
contract Race {
  message W();
  message X();
  message Y();
  message Z();
  initial state Start { send W -> A; }
  state A {
    send X -> B;
    recv Y -> C;
  }
  state B { recv Z -> end; }
  state C { recv Z -> end; }
}
)";
    auto parsed = unchecked(race);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    INFO(parsed->sink.render());
    CHECK(count_code(parsed->sink, DiagnosticCode::Race) == 1);
    CHECK(count_code(parsed->sink, DiagnosticCode::UnspecifiedReception) == 0);
    const milkc::Diagnostic& found = first_with(parsed->sink, DiagnosticCode::Race);
    // At the state where both may speak, naming the two messages, each
    // side's own path to its crossing send, and where they meet.
    CHECK(found.location.line == 8);
    CHECK(found.message.find("messages `X` and `Y` can cross in flight: in state `A` the client sends `X` while "
                             "the server sends `Y`") != std::string::npos);
    CHECK(found.message.find("the client's path: sends `W` (Start -> A), sends `X` (A -> B);") != std::string::npos);
    CHECK(found.message.find("the server's path: receives `W` (Start -> A), sends `Y` (A -> C);") !=
          std::string::npos);
    CHECK(found.message.find("they meet when the client, in state `B`, finds `Y`, which it cannot take") !=
          std::string::npos);
    CHECK(found.hint.find("decide who speaks in `A`") != std::string::npos);
}

TEST_CASE("an unspecified reception without crossing messages stays E0051") {
    // One message, two targets: the sides may choose differently. Nothing
    // crosses (only the client speaks in A), yet Y reaches a client in B.
    const char* const diverge = R"(package demo.diverge;
contract Diverge {
  message X();
  message Y();
  message Z();
  initial state A {
    send X -> B;
    send X -> C;
  }
  state B { recv Z -> end; }
  state C { recv Y -> end; }
}
)";
    auto parsed = unchecked(diverge);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    INFO(parsed->sink.render());
    CHECK(count_code(parsed->sink, DiagnosticCode::Race) == 0);
    const milkc::Diagnostic& found = first_with(parsed->sink, DiagnosticCode::UnspecifiedReception);
    CHECK(found.message.find("message `Y` can arrive at the client in state `B`, which cannot take it") !=
          std::string::npos);
    CHECK(found.hint == "in state `B` the client takes only `Z`");
}

TEST_CASE("crossing messages that both sides expect are no error") {
    // Mixed state, but each side can take the other's message wherever the
    // race leaves it: the checker must not flag what is actually right.
    const char* const crossing = R"(package demo.cross;
contract Crossing {
  message X();
  message Y();
  message Q();
  initial state A {
    send X -> B;
    recv Y -> C;
  }
  state B { recv Y -> D; }
  state C { send X -> D; }
  state D { recv Q -> end; }
}
)";
    auto parsed = unchecked(crossing);
    ModelCheckReport report = check_first(*parsed);
    INFO(parsed->sink.render());
    CHECK(report.ok);
    CHECK_FALSE(parsed->sink.has_errors());
    CHECK(report.configurations > 0);
}

TEST_CASE("a message that arrives after the receiver ended is an unspecified reception") {
    // The server may choose to answer; the client, which chose the other
    // target of X, has ended by then.
    const char* const late = R"(package demo.late;
contract Late {
  message X();
  message Y();
  initial state A {
    send X -> end;
    send X -> B;
  }
  state B { recv Y -> end; }
}
)";
    auto parsed = unchecked(late);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    const milkc::Diagnostic& late_message = first_with(parsed->sink, DiagnosticCode::UnspecifiedReception);
    CHECK(late_message.message.find("can arrive at the client after it has ended") != std::string::npos);
    CHECK(late_message.hint == "the server can still send `Y` when the client has already gone to `end`");
}

TEST_CASE("a race that ends one side names where they meet") {
    const char* const late = R"(package demo.late;
contract Late {
  message X();
  message Y();
  initial state A {
    send X -> end;
    recv Y -> end;
  }
}
)";
    auto parsed = unchecked(late);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    INFO(parsed->sink.render());
    const milkc::Diagnostic& found = first_with(parsed->sink, DiagnosticCode::Race);
    CHECK(found.message.find("the client's path: sends `X` (A -> end)") != std::string::npos);
    CHECK(found.message.find("they meet when the client, after it has ended, finds `Y`") != std::string::npos);
}

TEST_CASE("a side that ended while the other waits is a deadlock") {
    // Two transitions on one message (E0016 in the checks): the sides may
    // choose differently, and then the client waits for a server that ended.
    const char* const split = R"(package demo.split;
contract Split {
  message X();
  message Y();
  initial state A {
    send X -> end;
    send X -> B;
  }
  state B { recv Y -> end; }
}
)";
    auto parsed = unchecked(split);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    INFO(parsed->sink.render());
    const milkc::Diagnostic& deadlock = first_with(parsed->sink, DiagnosticCode::Deadlock);
    CHECK(deadlock.message.find("the client waits in state `B` and the server has ended") != std::string::npos);
    CHECK(deadlock.hint == "the server went to `end` while the client still waits for a message");
}

TEST_CASE("a deadlock where both sides wait for each other") {
    // Two transitions on one message again: the client may go to B, where it
    // waits for Y, while the server goes to C, where it waits for Z.
    const char* const wait = R"(package demo.wait;
contract Wait {
  message X();
  message Y();
  message Z();
  initial state A {
    send X -> B;
    send X -> C;
  }
  state B { recv Y -> end; }
  state C { send Z -> end; }
}
)";
    auto parsed = unchecked(wait);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    INFO(parsed->sink.render());
    const milkc::Diagnostic& deadlock = first_with(parsed->sink, DiagnosticCode::Deadlock);
    CHECK(deadlock.message ==
          "contract `Wait` can deadlock: the client waits in state `B` and the server waits in state `C`, with no "
          "message in flight; reached after: client sends `X`, server receives `X`");
    CHECK(deadlock.hint == "each side waits for the other to send");
    CHECK(deadlock.location.line == 10);
}

TEST_CASE("long traces keep their last steps") {
    // Twenty sends and receives before the deadlock in Stuck.
    std::string text = "package demo.chain;\ncontract Chain {\n  message M();\n  initial state S0 { send M -> S1; }\n";
    for (int i = 1; i < 10; ++i) {
        text += "  state S" + std::to_string(i) + " { send M -> S" + std::to_string(i + 1) + "; }\n";
    }
    text += "  state S10 { send M -> Stuck; }\n  state Stuck { }\n}\n";
    auto parsed = checked(text);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    const milkc::Diagnostic& deadlock = first_with(parsed->sink, DiagnosticCode::Deadlock);
    INFO(deadlock.message);
    CHECK(deadlock.message.find("reached after 22 steps, the last 12: ") != std::string::npos);
    CHECK(deadlock.message.find("server receives `M`") != std::string::npos);
}

TEST_CASE("states no side reaches are reported on unchecked trees") {
    const char* const island = R"(package demo.island;
contract Island {
  message X();
  initial state A { send X -> end; }
  state Lost { send X -> end; }
}
)";
    auto parsed = unchecked(island);
    ModelCheckReport report = check_first(*parsed);
    CHECK_FALSE(report.ok);
    REQUIRE(count_code(parsed->sink, DiagnosticCode::UnreachableState) == 1);
    const milkc::Diagnostic& lost = first_with(parsed->sink, DiagnosticCode::UnreachableState);
    CHECK(lost.message ==
          "contract `Island`: state `Lost` is reached by neither the client nor the server in the composed system");
    CHECK(lost.location.line == 5);
}

TEST_CASE("a contract without an initial state has nothing to explore") {
    const char* const headless = R"(package demo.headless;
contract Headless {
  message X();
  state A { send X -> end; }
}
)";
    auto parsed = unchecked(headless);
    ModelCheckReport report = check_first(*parsed);
    CHECK(report.ok);
    CHECK(report.configurations == 0);
    CHECK(report.states == 1);
    CHECK(report.transitions == 1);
}

TEST_CASE("the model checker's output is deterministic") {
    const char* const race = R"(package demo.race;
contract Race {
  message X();
  message Y();
  initial state A {
    send X -> B;
    recv Y -> B;
    send Y -> end;
  }
  state B { }
}
)";
    auto first = unchecked(race);
    auto second = unchecked(race);
    ModelCheckReport a = check_first(*first);
    ModelCheckReport b = check_first(*second);
    CHECK(a.configurations == b.configurations);
    CHECK(first->sink.has_errors());
    CHECK(first->sink.render() == second->sink.render());
}

TEST_CASE("a state where nobody speaks but either may hang up (`close`) is no deadlock") {
    const char* const closes = R"(package demo.closes;
contract Service {
  message Request();
  message Done();
  initial state Ready {
    send Request -> recv Done -> Finished;
    close;
  }
  state Finished { close; }
}
)";
    auto parsed = checked(closes);
    ModelCheckReport report = check_first(*parsed);
    INFO(parsed->sink.render());
    CHECK(report.ok);
    CHECK_FALSE(parsed->sink.has_errors());

    // The same contract without the hang-up in Finished deadlocks there.
    std::string stuck(closes);
    stuck.replace(stuck.find("state Finished { close; }"), 25, "state Finished { }");
    auto without = checked(stuck);
    ModelCheckReport failed = check_first(*without);
    CHECK_FALSE(failed.ok);
    CHECK(count_code(without->sink, DiagnosticCode::Deadlock) == 1);
}

TEST_CASE("a hang-up arrives after the messages sent before it, and the receiver takes it in its state") {
    // The server answers and may then hang up (close; in Ready, where the
    // client speaks, is the client's; here the server's state Busy has it).
    const char* const busy = R"(package demo.closes;
contract Service {
  message Request();
  message Reply();
  initial state Ready { send Request -> Busy; }
  state Busy {
    recv Reply -> Ready;
    close;
  }
}
)";
    auto parsed = checked(busy);
    ModelCheckReport report = check_first(*parsed);
    INFO(parsed->sink.render());
    CHECK(report.ok);
    CHECK(report.configurations > 0);
}


TEST_CASE("entry states are starts of their own: reached, and problems from them say so") {
    // Resume is reached only by starting there; a deadlock from it is traced
    // from it.
    const char* const entries = R"(package demo.entries;
contract Transfer {
  message Hello();
  message Ack();
  message Done();
  initial state Start { send Hello -> Streaming; }
  entry state Streaming { send Done -> end; }
  entry state Resume { recv Ack -> Stuck; }
  state Stuck { }
}
)";
    auto parsed = checked(entries);
    ModelCheckReport report = check_first(*parsed);
    INFO(parsed->sink.render());
    CHECK_FALSE(report.ok);
    const milkc::Diagnostic& deadlock = first_with(parsed->sink, DiagnosticCode::Deadlock);
    CHECK(deadlock.message.find("starting in entry state `Resume`, reached after: server sends `Ack`") !=
          std::string::npos);
    CHECK(count_code(parsed->sink, DiagnosticCode::UnreachableState) == 0);
}
