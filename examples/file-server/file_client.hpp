// examples/file-server: the client's side of the scripted session, shared by
// the in-process example (main.cpp), the cross-process one
// (../file-server-process) and the VM test that runs it against the file
// server inside milk.ko, so that all three run the same client code.
//
// Each request is a function that sends it and receives the reply. Every
// receive has one handler per reply its state allows (files.contract): leave
// one out and the program does not compile.
#pragma once

#include "files.hpp"  // generated from files.contract

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace examples::files {

using ClientReady = FileService::Client<FileService::state::Ready>;

inline std::string_view as_text(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline const char* name_of(FileError error) {
    switch (error) {
    case FileError::not_found: return "not_found";
    case FileError::bad_handle: return "bad_handle";
    case FileError::out_of_range: return "out_of_range";
    case FileError::no_space: return "no_space";
    }
    return "?";
}


// A reply, in words, and the endpoint for the next request.
struct Reply {
    std::string text;
    ClientReady client;
};

inline std::string failure(const FileService::Failed& failed) { return std::string("failed: ") + name_of(failed.error); }

inline milk::Result<milk::Buffer> buffer_with(ClientReady& client, std::string_view text) {
    auto buffer = client.allocate(text.size());
    if (buffer) std::memcpy(buffer.value().data(), text.data(), text.size());
    return buffer;
}

inline milk::Result<Reply> open_file(ClientReady client, std::string_view path) {
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

inline milk::Result<Reply> read_file(ClientReady client, std::uint32_t handle, std::uint64_t offset, std::uint32_t length) {
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

inline milk::Result<Reply> write_file(ClientReady client, std::uint32_t handle, std::uint64_t offset, std::string_view text) {
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

inline milk::Result<Reply> close_file(ClientReady client, std::uint32_t handle) {
    auto closing = std::move(client).send(FileService::Close{handle});
    if (!closing) return closing.error();
    return std::move(closing).value().receive(
        [](FileService::Closed&&, ClientReady&& next) { return Reply{"closed", std::move(next)}; },
        [](FileService::Failed&& failed, ClientReady&& next) { return Reply{failure(failed), std::move(next)}; });
}

// Runs the script: each request, the reply it must get. Returns false on the
// first reply that differs, or when the channel fails.
inline bool run_session(ClientReady ready) {
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

}  // namespace examples::files
