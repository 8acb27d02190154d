// How milk.ko may host a contract's server (codegen/hosting.hpp), computed
// from the contract's states: per message only when the client always speaks
// first and gets exactly one answer before it speaks again.
#include "backend_test_util.hpp"
#include "hosting.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using milkc::test::checked;

milkc::HostingVerdict hosting_of(const std::string& text) {
    auto parsed = checked(text);
    REQUIRE(parsed->file->contracts.size() == 1);
    return milkc::kernel_hosting(parsed->file->contracts.front());
}

}  // namespace

TEST_CASE("a request and one answer per message is per-message, a goodbye needs no answer") {
    const auto verdict = hosting_of(R"(package t;
contract PingPong {
  message Ping(u32 seq, bytes payload);
  message Pong(u32 seq, bytes payload);
  message Bye();
  initial state Idle { send Ping -> Waiting; send Bye -> end; }
  state Waiting { recv Pong -> Idle; }
}
)");
    CHECK(verdict.hosting == milkc::KernelHosting::PerMessage);
    CHECK(verdict.reason.empty());
}

TEST_CASE("several possible answers, each back to a client state or to end, are still per-message") {
    const auto verdict = hosting_of(R"(package t;
contract Files {
  message Open(u32 id);
  message Opened();
  message Failed();
  message Gone();
  message Read();
  message Data();
  initial state Ready { send Open -> Opening; send Read -> Reading; }
  state Opening { recv Opened -> Ready; recv Failed -> Ready; recv Gone -> end; }
  state Reading { recv Data -> Other; }
  state Other { send Read -> Reading; send Open -> Opening; }
}
)");
    CHECK(verdict.hosting == milkc::KernelHosting::PerMessage);
}

TEST_CASE("a server that speaks first needs a thread") {
    const auto verdict = hosting_of(R"(package t;
contract Tally {
  message Ready(u32 limit);
  message Add(u64 value);
  message Total();
  message Sum(u64 sum);
  initial state Greeting { recv Ready -> Adding; }
  state Adding { send Add -> Adding; send Total -> Summing; }
  state Summing { recv Sum -> Adding; }
}
)");
    CHECK(verdict.hosting == milkc::KernelHosting::Thread);
    CHECK(verdict.reason == "the server speaks first in Greeting");
}

TEST_CASE("a client that sends twice before an answer needs a thread") {
    const auto verdict = hosting_of(R"(package t;
contract Batch {
  message Add(u64 value);
  message Total();
  message Sum(u64 sum);
  initial state Adding { send Add -> Adding; send Total -> Summing; }
  state Summing { recv Sum -> Adding; }
}
)");
    CHECK(verdict.hosting == milkc::KernelHosting::Thread);
    CHECK(verdict.reason == "the client sends Add in Adding and speaks again without an answer");
}

TEST_CASE("a server that answers twice needs a thread") {
    const auto verdict = hosting_of(R"(package t;
contract Stream {
  message Get();
  message Part();
  message Last();
  initial state Idle { send Get -> Sending; }
  state Sending { recv Part -> More; }
  state More { recv Last -> Idle; }
}
)");
    CHECK(verdict.hosting == milkc::KernelHosting::Thread);
    CHECK(verdict.reason == "the server answers Get with Part and speaks again in More");
}

TEST_CASE("a violation deep in the protocol is found after per-message states") {
    // Idle and Opened are fine; Again (reached after an answer) lets the
    // client send Grid and speak again in Idle without an answer.
    const auto verdict = hosting_of(R"(package t;
contract Rich {
  message Open();
  message Shape();
  message Wide();
  message Grid();
  initial state Idle { send Open -> Opened; }
  state Opened { recv Shape -> Idle; recv Wide -> Again; }
  state Again { send Grid -> Idle; }
}
)");
    CHECK(verdict.hosting == milkc::KernelHosting::Thread);
    CHECK(verdict.reason == "the client sends Grid in Again and speaks again without an answer");
}
