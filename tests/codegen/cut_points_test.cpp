// milkc's cut points: the states where the server owes nothing, where a
// component may be moved or restarted (codegen/cut_points.hpp).
#include "cut_points.hpp"
#include "frontend.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

// The names of the cut points of the file's only contract.
std::vector<std::string> cut_point_names(std::string text) {
    milkc::SourceFile source("test.contract", std::move(text));
    milkc::DiagnosticSink sink(source);
    std::optional<milkc::File> file = milkc::parse_and_check(source, sink);
    INFO(sink.render());
    REQUIRE(file.has_value());
    REQUIRE(file->contracts.size() == 1);
    std::vector<std::string> names;
    for (const milkc::StateDecl* state : milkc::cut_points(file->contracts.front())) names.push_back(state->name);
    return names;
}

}  // namespace

TEST_CASE("cut points: a request/reply contract is cut only where the client asks") {
    CHECK(cut_point_names(R"(
        package test;
        contract PingPong {
          message Ping(u64 seq);
          message Pong(u64 seq);
          message Bye();
          initial state Idle { send Ping -> AwaitPong; send Bye -> end; }
          state AwaitPong { recv Pong -> Idle; }
        })") == std::vector<std::string>{"Idle"});
}

TEST_CASE("cut points: a request spread over several client messages is cut between them") {
    // The server has taken Open but owes nothing until Go: it waits, so
    // Opened is a cut point too (what it has taken is its state, which a
    // snapshot carries).
    CHECK(cut_point_names(R"(
        package test;
        contract Staged {
          message Open();
          message Go();
          message Done();
          initial state Idle { send Open -> Opened; }
          state Opened { send Go -> Working; }
          state Working { recv Done -> Idle; }
        })") == std::vector<std::string>{"Idle", "Opened"});
}

TEST_CASE("cut points: a server that speaks first is not cut until it has spoken") {
    CHECK(cut_point_names(R"(
        package test;
        contract Greeter {
          message Hello();
          message Add(u32 amount);
          message Total(u64 sum);
          initial state Greeting { recv Hello -> Adding; }
          state Adding { send Add -> Adding; send Add2 -> Answering; }
          state Answering { recv Total -> Adding; }
          message Add2();
        })") == std::vector<std::string>{"Adding"});
}

TEST_CASE("cut points: a server that only pushes is never cut") {
    CHECK(cut_point_names(R"(
        package test;
        contract Ticker {
          message Tick(u64 at);
          message Stop();
          initial state Ticking { recv Tick -> Ticking; recv Stop -> end; }
        })")
              .empty());
}
