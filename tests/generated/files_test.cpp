// Branching receives with the file contract (contracts/files.contract): every
// reply of a state reaches its own handler, and replies that end the session
// get handlers without a next endpoint.
#include "files.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace demo::files;
using namespace demo::files::Files;

// One in-memory file, served over the contract until the client closes.
class FileServer {
public:
    explicit FileServer(std::string contents, std::size_t capacity)
        : m_contents(std::move(contents)), m_capacity(capacity) {}

    // Serves one session; returns how many requests it answered.
    int serve(Server<state::Start> start) {
        int answered = 0;
        std::optional<Server<state::Ready>> ready;
        auto opened = std::move(start).receive([&](Open&& open, Server<state::Opening>&& opening) {
            const std::string path(reinterpret_cast<const char*>(open.path.data()), open.path.size());
            // Failed ends the session: its send returns Result<void>.
            if (path != "notes.txt") {
                CHECK(std::move(opening).send(Failed{Errno::not_found}).ok());
                return false;
            }
            if (open.access != Access::read_write) {
                CHECK(std::move(opening).send(Failed{Errno::no_access}).ok());
                return false;
            }
            auto result = std::move(opening).send(Opened{m_contents.size()});
            if (!result.ok()) return false;
            ready.emplace(std::move(result).value());
            return true;
        });
        if (!opened.ok() || !opened.value()) return answered;

        for (;;) {
            std::optional<Server<state::Ready>> again;
            auto step = std::move(*ready).receive(
                [&](Read&& read, Server<state::Reading>&& reading) {
                    ++answered;
                    milk::Result<Server<state::Ready>> next = milk::Error{milk::ErrorCode::InvalidArgument};
                    if (read.offset > m_contents.size()) {
                        next = std::move(reading).send(Failed{Errno::no_access});
                    } else if (read.offset == m_contents.size()) {
                        next = std::move(reading).send(Eof{});
                    } else {
                        const std::size_t length = std::min<std::size_t>(read.length, m_contents.size() - read.offset);
                        milk::Buffer data = reading.allocate(length).value();
                        std::memcpy(data.data(), m_contents.data() + read.offset, length);
                        next = std::move(reading).send(Data{std::move(data)});
                    }
                    if (!next.ok()) return false;
                    again.emplace(std::move(next).value());
                    return true;
                },
                [&](Write&& write, Server<state::Writing>&& writing) {
                    ++answered;
                    milk::Result<Server<state::Ready>> next = milk::Error{milk::ErrorCode::InvalidArgument};
                    if (write.offset + write.data.size() > m_capacity) {
                        next = std::move(writing).send(Failed{Errno::no_space});
                    } else {
                        const std::string_view bytes(reinterpret_cast<const char*>(write.data.data()), write.data.size());
                        m_contents.resize(std::max<std::size_t>(m_contents.size(), write.offset + bytes.size()));
                        m_contents.replace(write.offset, bytes.size(), bytes);
                        next = std::move(writing).send(Written{static_cast<std::uint32_t>(bytes.size())});
                    }
                    if (!next.ok()) return false;
                    again.emplace(std::move(next).value());
                    return true;
                },
                [&](Close&&) { return false; });
            if (!step.ok() || !step.value()) return answered;
            ready = std::move(again);
        }
    }

    const std::string& contents() const { return m_contents; }

private:
    std::string m_contents;
    std::size_t m_capacity;
};

milk::Buffer text_buffer(auto& endpoint, std::string_view text) {
    milk::Buffer buffer = endpoint.allocate(text.size()).value();
    std::memcpy(buffer.data(), text.data(), text.size());
    return buffer;
}

std::string text_of(const milk::Buffer& buffer) {
    return std::string(reinterpret_cast<const char*>(buffer.data()), buffer.size());
}

// What the client saw in one Reading or Writing state.
enum class Reply { Data, Eof, Written, Failed };

}  // namespace

TEST_CASE("files: every branch of a branching receive reaches its handler") {
    auto [client, server] = Files::open_inproc().value();
    FileServer file_server("hello world", 16);
    int answered = 0;
    std::thread server_thread([&, endpoint = std::move(server)]() mutable { answered = file_server.serve(std::move(endpoint)); });

    milk::Buffer path = text_buffer(client, "notes.txt");
    auto opening = std::move(client).send(Open{Access::read_write, std::move(path)});
    REQUIRE(opening.ok());
    std::optional<Client<state::Ready>> ready;
    std::uint64_t size = 0;
    auto opened = std::move(opening).value().receive(
        [&](Opened&& message, Client<state::Ready>&& next) {
            size = message.size;
            ready.emplace(std::move(next));
            return true;
        },
        [&](Failed&&) { return false; });
    REQUIRE(opened.ok());
    REQUIRE(opened.value());
    CHECK(size == 11);

    // One read or write and its reply; the client is back in Ready after it.
    std::string data;
    Errno error{};
    auto read = [&](std::uint64_t offset, std::uint32_t length) {
        auto reading = std::move(*ready).send(Read{offset, length});
        REQUIRE(reading.ok());
        auto reply = std::move(reading).value().receive(
            [&](Data&& message, Client<state::Ready>&& next) {
                data = text_of(message.data);
                ready.emplace(std::move(next));
                return Reply::Data;
            },
            [&](Eof&&, Client<state::Ready>&& next) {
                ready.emplace(std::move(next));
                return Reply::Eof;
            },
            [&](Failed&& message, Client<state::Ready>&& next) {
                error = message.error;
                ready.emplace(std::move(next));
                return Reply::Failed;
            });
        REQUIRE(reply.ok());
        return reply.value();
    };
    auto write = [&](std::uint64_t offset, std::string_view text) {
        milk::Buffer bytes = text_buffer(*ready, text);
        auto writing = std::move(*ready).send(Write{offset, std::move(bytes)});
        REQUIRE(writing.ok());
        std::uint32_t written = 0;
        auto reply = std::move(writing).value().receive(
            [&](Written&& message, auto&& next) {
                written = message.length;
                ready.emplace(std::move(next));
                return Reply::Written;
            },
            [&](Failed&& message, auto&& next) {
                error = message.error;
                ready.emplace(std::move(next));
                return Reply::Failed;
            });
        REQUIRE(reply.ok());
        if (reply.value() == Reply::Written) CHECK(written == text.size());
        return reply.value();
    };

    CHECK(read(0, 5) == Reply::Data);
    CHECK(data == "hello");
    CHECK(read(11, 5) == Reply::Eof);
    CHECK(read(12, 5) == Reply::Failed);
    CHECK(error == Errno::no_access);
    CHECK(write(6, "milk!") == Reply::Written);
    CHECK(write(14, "too long") == Reply::Failed);
    CHECK(error == Errno::no_space);
    CHECK(read(0, 11) == Reply::Data);
    CHECK(data == "hello milk!");

    REQUIRE(std::move(*ready).send(Close{}).ok());
    server_thread.join();
    CHECK(answered == 6);
    CHECK(file_server.contents() == "hello milk!");
}

TEST_CASE("files: a reply that ends the session takes no next endpoint") {
    auto [client, server] = Files::open_inproc().value();
    FileServer file_server("", 16);
    std::thread server_thread([&, endpoint = std::move(server)]() mutable { file_server.serve(std::move(endpoint)); });

    milk::Buffer path = text_buffer(client, "missing.txt");
    auto opening = std::move(client).send(Open{Access::read, std::move(path)});
    REQUIRE(opening.ok());
    Errno error{};
    auto reply = std::move(opening).value().receive([&](Opened&&, auto&&) { return false; },
                                                    [&](Failed&& failed) {
                                                        error = failed.error;
                                                        return true;
                                                    });
    REQUIRE(reply.ok());
    CHECK(reply.value());
    CHECK(error == Errno::not_found);
    server_thread.join();
}
