// The second round's contract features across processes: hanging up
// (`close;`) and entry states run over the process transport as they do in
// one process. The server is a forked child on its own end of a process
// channel; its exit status says what it saw.
#include "closes.hpp"
#include "entries.hpp"

#include <milk/process.hpp>

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

namespace {

// Forks a child that attaches to a new process channel and runs
// `serve(ChannelEnd&&)`, exiting with what it returns; the parent's end.
template <typename Serve>
std::pair<milk::ChannelEnd, pid_t> fork_server(Serve&& serve) {
    auto pending = milk::process::create_channel();
    REQUIRE(pending.ok());
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto end = milk::process::attach_inherited(pending.value().fd(), parent);
        if (!end.ok()) std::_Exit(100);
        std::_Exit(serve(std::move(end).value()));
    }
    auto end = milk::process::bind_child(std::move(pending).value(), child);
    REQUIRE(end.ok());
    return {std::move(end).value(), child};
}

int exit_status_of(pid_t child) {
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

namespace closes = demo::closes::Service;
namespace entries = demo::entries::Transfer;

// The closes server: answers every Request; hangs up itself on n == 7.
// Exit status: requests * 2, plus 1 if the client hung up.
int serve_closes(milk::ChannelEnd&& end) {
    int requests = 0;
    bool hung_up = false;
    std::optional<closes::Server<closes::state::Ready>> next{closes::server(std::move(end))};
    while (next) {
        closes::Server<closes::state::Ready> current = std::move(*next);
        next.reset();
        auto step = std::move(current).receive(
            [&](closes::Request&& request, closes::Server<closes::state::Busy>&& busy) {
                ++requests;
                if (request.n == 7) {
                    static_cast<void>(std::move(busy).close());
                } else {
                    next.emplace(std::move(busy).send(closes::Reply{request.n}).value());
                }
            },
            [&](milk::HungUp) { hung_up = true; });
        if (!step.ok()) return 99;
    }
    return requests * 2 + (hung_up ? 1 : 0);
}

}  // namespace

TEST_CASE("close across processes: the server process takes the client's hang-up as the end") {
    auto [end, child] = fork_server(serve_closes);
    std::optional<closes::Client<closes::state::Ready>> ready{closes::client(std::move(end))};
    for (std::uint32_t n = 1; n <= 2; ++n) {
        auto busy = std::move(*ready).send(closes::Request{n}).value();
        ready.reset();
        std::optional<closes::Client<closes::state::Ready>> again;
        REQUIRE(std::move(busy)
                    .receive([&](closes::Reply&& reply, closes::Client<closes::state::Ready>&& next) {
                        CHECK(reply.n == n);
                        again.emplace(std::move(next));
                    },
                    [&](closes::Done&&, closes::Client<closes::state::Finished>&& finished) {
                        static_cast<void>(std::move(finished).close());
                    },
                    [&](milk::HungUp) { FAIL("the server hung up"); })
                    .ok());
        ready = std::move(again);
    }
    REQUIRE(std::move(*ready).close().ok());
    CHECK(exit_status_of(child) == 2 * 2 + 1);
}

TEST_CASE("close across processes: the client takes the server process's hang-up as the end") {
    auto [end, child] = fork_server(serve_closes);
    auto busy = closes::client(std::move(end)).send(closes::Request{7}).value();
    bool hung_up = false;
    REQUIRE(std::move(busy)
                .receive([&](closes::Reply&&, closes::Client<closes::state::Ready>&& next) {
                    static_cast<void>(std::move(next).close());
                },
                [&](closes::Done&&, closes::Client<closes::state::Finished>&& finished) {
                    static_cast<void>(std::move(finished).close());
                },
                [&](milk::HungUp) { hung_up = true; })
                .ok());
    CHECK(hung_up);
    CHECK(exit_status_of(child) == 1 * 2);
}

TEST_CASE("entry states across processes: both processes start the conversation in Streaming") {
    auto [end, child] = fork_server([](milk::ChannelEnd&& server_end) {
        std::uint32_t sum = 0;
        std::optional<entries::Server<entries::state::Streaming>> next{
            entries::server_at<entries::state::Streaming>(std::move(server_end))};
        while (next) {
            entries::Server<entries::state::Streaming> current = std::move(*next);
            next.reset();
            auto step = std::move(current).receive(
                [&](entries::Data&& data, entries::Server<entries::state::Waiting>&& waiting) {
                    sum += data.n;
                    next.emplace(std::move(waiting).send(entries::Ack{data.n}).value());
                },
                [&](entries::Done&&) {});
            if (!step.ok()) return 99;
        }
        return static_cast<int>(sum);
    });
    std::optional<entries::Client<entries::state::Streaming>> streaming{
        entries::client_at<entries::state::Streaming>(std::move(end))};
    for (std::uint32_t n = 3; n <= 5; ++n) {
        auto waiting = std::move(*streaming).send(entries::Data{n}).value();
        streaming.reset();
        std::optional<entries::Client<entries::state::Streaming>> next;
        REQUIRE(std::move(waiting)
                    .receive([&](entries::Ack&& ack, entries::Client<entries::state::Streaming>&& after) {
                        CHECK(ack.n == n);
                        next.emplace(std::move(after));
                    })
                    .ok());
        streaming = std::move(next);
    }
    REQUIRE(std::move(*streaming).send(entries::Done{}).ok());
    CHECK(exit_status_of(child) == 12);
}
