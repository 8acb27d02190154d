// examples/file-server: a file service over a channel, in the style of
// Singularity's channel contracts. A server thread keeps an in-memory file
// table; the client runs a scripted session, prints each request with its
// reply, and checks every reply against the script.
//
// What to look at: every request has its own set of replies (files.contract),
// and each receive below has one handler per reply the state allows. Leave
// one out and the program does not compile.
#include "file_server.hpp"  // the server's work per request, shared with milk.ko
#include "files.hpp"        // generated from files.contract by milk_add_contract()

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace {

using examples::files::FileError;
namespace FileService = examples::files::FileService;
using ClientReady = FileService::Client<FileService::state::Ready>;
using ServerReady = FileService::Server<FileService::state::Ready>;

std::string_view as_text(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

const char* name_of(FileError error) {
    switch (error) {
    case FileError::not_found: return "not_found";
    case FileError::bad_handle: return "bad_handle";
    case FileError::out_of_range: return "out_of_range";
    case FileError::no_space: return "no_space";
    }
    return "?";
}

// ---------------------------------------------------------------------------
// The server side

// The file table and the answer to each request are in file_server.hpp,
// which milk.ko compiles unchanged for its own file server.
using examples::files::FileTable;

// Serves requests until the client says Bye.
milk::Result<void> serve(FileTable& table, ServerReady server) {
    for (;;) {
        auto next = examples::files::serve_one(table, std::move(server));
        if (!next) return next.error();
        if (!next.value()) return {};  // Bye: the session is over
        server = std::move(*next.value());
    }
}

// ---------------------------------------------------------------------------
// The client side

// A reply, in words, and the endpoint for the next request.
struct Reply {
    std::string text;
    ClientReady client;
};

std::string failure(const FileService::Failed& failed) { return std::string("failed: ") + name_of(failed.error); }

milk::Result<milk::Buffer> buffer_with(ClientReady& client, std::string_view text) {
    auto buffer = client.allocate(text.size());
    if (buffer) std::memcpy(buffer.value().data(), text.data(), text.size());
    return buffer;
}

milk::Result<Reply> open_file(ClientReady client, std::string_view path) {
    auto buffer = buffer_with(client, path);
    if (!buffer) return buffer.error();
    auto opening = std::move(client).send(FileService::Open{std::move(buffer).value()});
    if (!opening) return opening.error();
    // Opening branches: Opened or Failed.
    return std::move(opening).value().receive(
        [](FileService::Opened&& opened, ClientReady&& next) {
            return Reply{"opened, handle " + std::to_string(opened.handle), std::move(next)};
        },
        [](FileService::Failed&& failed, ClientReady&& next) { return Reply{failure(failed), std::move(next)}; });
}

milk::Result<Reply> read_file(ClientReady client, std::uint32_t handle, std::uint64_t offset, std::uint32_t length) {
    auto reading = std::move(client).send(FileService::Read{handle, offset, length});
    if (!reading) return reading.error();
    // Reading branches three ways: Data, Eof or Failed.
    return std::move(reading).value().receive(
        [](FileService::Data&& message, ClientReady&& next) {
            return Reply{"data \"" + std::string(as_text(message.data.bytes())) + "\"", std::move(next)};
        },
        [](FileService::Eof&&, ClientReady&& next) { return Reply{"eof", std::move(next)}; },
        [](FileService::Failed&& failed, ClientReady&& next) { return Reply{failure(failed), std::move(next)}; });
}

milk::Result<Reply> write_file(ClientReady client, std::uint32_t handle, std::uint64_t offset, std::string_view text) {
    auto buffer = buffer_with(client, text);
    if (!buffer) return buffer.error();
    auto writing = std::move(client).send(FileService::Write{handle, offset, std::move(buffer).value()});
    if (!writing) return writing.error();
    return std::move(writing).value().receive(
        [](FileService::Written&& written, ClientReady&& next) {
            return Reply{"written, " + std::to_string(written.count) + " bytes", std::move(next)};
        },
        [](FileService::Failed&& failed, ClientReady&& next) { return Reply{failure(failed), std::move(next)}; });
}

milk::Result<Reply> close_file(ClientReady client, std::uint32_t handle) {
    auto closing = std::move(client).send(FileService::Close{handle});
    if (!closing) return closing.error();
    return std::move(closing).value().receive(
        [](FileService::Closed&&, ClientReady&& next) { return Reply{"closed", std::move(next)}; },
        [](FileService::Failed&& failed, ClientReady&& next) { return Reply{failure(failed), std::move(next)}; });
}

// Runs the script: each request, the reply it must get. Returns false on the
// first reply that differs, or when the channel fails.
bool run_session(ClientReady ready) {
    std::optional<ClientReady> client{std::move(ready)};
    auto step = [&](const char* request, milk::Result<Reply> reply, std::string_view expected) {
        if (!reply) {
            std::printf("%-36s -> error: %s\n", request, milk::describe(reply.error().code));
            return false;
        }
        bool as_expected = reply.value().text == expected;
        std::printf("%-36s -> %s%s\n", request, reply.value().text.c_str(), as_expected ? "" : "   << WRONG");
        if (!as_expected) {
            std::printf("%-36s    expected %.*s\n", "", static_cast<int>(expected.size()), expected.data());
        }
        client.emplace(std::move(reply.value().client));
        return as_expected;
    };

    bool ok = step("open \"/motd\"", open_file(std::move(*client), "/motd"), "opened, handle 1") &&
              step("read handle 1, from 0, 64 bytes", read_file(std::move(*client), 1, 0, 64),
                   "data \"Hello from the file server.\"") &&
              step("read handle 1, from 6, 4 bytes", read_file(std::move(*client), 1, 6, 4), "data \"from\"") &&
              step("read handle 1, from 27, 64 bytes", read_file(std::move(*client), 1, 27, 64), "eof") &&
              step("write handle 1, at 27: \" And back.\"", write_file(std::move(*client), 1, 27, " And back."),
                   "written, 10 bytes") &&
              step("read handle 1, from 0, 64 bytes", read_file(std::move(*client), 1, 0, 64),
                   "data \"Hello from the file server. And back.\"") &&
              step("write handle 1, at 1000: \"x\"", write_file(std::move(*client), 1, 1000, "x"),
                   "failed: out_of_range") &&
              step("open \"/no/such/file\"", open_file(std::move(*client), "/no/such/file"), "failed: not_found") &&
              step("close handle 1", close_file(std::move(*client), 1), "closed") &&
              step("read handle 1, from 0, 1 byte", read_file(std::move(*client), 1, 0, 1), "failed: bad_handle") &&
              step("close handle 1", close_file(std::move(*client), 1), "failed: bad_handle");
    if (!ok) return false;

    auto bye = std::move(*client).send(FileService::Bye{});
    if (!bye) {
        std::printf("bye -> error: %s\n", milk::describe(bye.error().code));
        return false;
    }
    std::printf("bye\n");
    return true;
}

}  // namespace

int main() {
    auto channel = FileService::open_inproc();
    if (!channel) {
        std::fprintf(stderr, "file-server: cannot open a channel: %s\n", milk::describe(channel.error().code));
        return 1;
    }
    auto [client, server] = std::move(channel).value();

    // The server runs on a thread of its own; its result comes back through
    // the future. If the session stops early, `client` is dropped on the way
    // out of run_session: the server's receive then returns PeerClosed, so
    // the server never waits forever.
    FileTable table;
    std::future<milk::Result<void>> server_done =
        std::async(std::launch::async, serve, std::ref(table), std::move(server));
    bool session_ok = run_session(std::move(client));
    milk::Result<void> served = server_done.get();

    if (!session_ok) {
        std::printf("file-server: FAILED\n");
        return 1;
    }
    if (!served) {
        std::printf("file-server: server failed: %s\n", milk::describe(served.error().code));
        return 1;
    }
    std::printf("file-server: every reply as expected\n");
    return 0;
}
