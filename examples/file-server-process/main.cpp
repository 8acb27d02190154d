// examples/file-server-process: the file-server example with the server in
// a process of its own, and what a client sees when that process is killed.
//
// The program starts a copy of itself as the server (fork, then exec: the
// two share nothing but the channel's memfd) and hands it the channel over a
// Unix socket. The client then runs the same scripted session as the
// in-process example, with the same generated endpoints. Last, it starts a
// second server, kills it with SIGKILL (a process that is killed cannot say
// goodbye), and shows that its next request ends in PeerClosed instead of
// waiting forever.
//
//   file-server-process                 run the client; it starts the servers
//   file-server-process --serve <fd>    a server, on socket <fd> (internal)
#include "files.hpp"  // generated from ../file-server/files.contract

#include <milk/process.hpp>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using examples::files::FileError;
namespace FileService = examples::files::FileService;
using ClientReady = FileService::Client<FileService::state::Ready>;
using ServerReady = FileService::Server<FileService::state::Ready>;
using ServerOpening = FileService::Server<FileService::state::Opening>;
using ServerReading = FileService::Server<FileService::state::Reading>;
using ServerWriting = FileService::Server<FileService::state::Writing>;
using ServerClosing = FileService::Server<FileService::state::Closing>;

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
// The server side (as in ../file-server/main.cpp)

// The files the server serves, by path, and the handles the client holds.
class FileTable {
public:
    static constexpr std::size_t max_file_size = std::size_t{64} * 1024;

    FileTable() { m_files["/motd"] = bytes_of("Hello from the file server."); }

    std::optional<std::uint32_t> open(std::string_view path) {
        auto file = m_files.find(path);
        if (file == m_files.end()) return std::nullopt;
        std::uint32_t handle = m_next_handle++;
        m_handles.emplace(handle, &file->second);
        return handle;
    }

    // The contents behind an open handle, or nullptr.
    std::vector<std::byte>* file(std::uint32_t handle) {
        auto open = m_handles.find(handle);
        return open == m_handles.end() ? nullptr : open->second;
    }

    bool close(std::uint32_t handle) { return m_handles.erase(handle) == 1; }

private:
    static std::vector<std::byte> bytes_of(std::string_view text) {
        auto bytes = std::as_bytes(std::span(text));
        return {bytes.begin(), bytes.end()};
    }

    // std::map never moves its elements, so the pointers in m_handles stay valid.
    std::map<std::string, std::vector<std::byte>, std::less<>> m_files;
    std::map<std::uint32_t, std::vector<std::byte>*> m_handles;
    std::uint32_t m_next_handle = 1;
};

// One function per request. Each sends one of the replies the contract
// allows in its state, and so returns the endpoint for the next request.
milk::Result<ServerReady> answer(FileTable& table, const FileService::Open& open, ServerOpening&& opening) {
    auto handle = table.open(as_text(open.path.bytes()));
    if (!handle) return std::move(opening).send(FileService::Failed{FileError::not_found});
    return std::move(opening).send(FileService::Opened{*handle});
}

milk::Result<ServerReady> answer(FileTable& table, const FileService::Read& read, ServerReading&& reading) {
    auto* file = table.file(read.handle);
    if (file == nullptr) return std::move(reading).send(FileService::Failed{FileError::bad_handle});
    if (read.length == 0) return std::move(reading).send(FileService::Failed{FileError::out_of_range});
    if (read.offset >= file->size()) return std::move(reading).send(FileService::Eof{});

    std::size_t length = std::min<std::size_t>(read.length, file->size() - read.offset);
    // The data goes out in a buffer of the exchange heap: the client gets
    // this very memory, not a copy of it.
    auto data = reading.allocate(length);
    if (!data) return data.error();
    std::copy_n(file->begin() + static_cast<std::ptrdiff_t>(read.offset), length, data.value().data());
    return std::move(reading).send(FileService::Data{std::move(data).value()});
}

milk::Result<ServerReady> answer(FileTable& table, const FileService::Write& write, ServerWriting&& writing) {
    auto* file = table.file(write.handle);
    if (file == nullptr) return std::move(writing).send(FileService::Failed{FileError::bad_handle});
    if (write.offset > file->size()) return std::move(writing).send(FileService::Failed{FileError::out_of_range});
    std::span<const std::byte> data = write.data.bytes();
    if (write.offset + data.size() > FileTable::max_file_size) {
        return std::move(writing).send(FileService::Failed{FileError::no_space});
    }

    file->resize(std::max<std::size_t>(file->size(), write.offset + data.size()));
    std::ranges::copy(data, file->begin() + static_cast<std::ptrdiff_t>(write.offset));
    return std::move(writing).send(FileService::Written{static_cast<std::uint32_t>(data.size())});
}

milk::Result<ServerReady> answer(FileTable& table, const FileService::Close& close, ServerClosing&& closing) {
    if (!table.close(close.handle)) return std::move(closing).send(FileService::Failed{FileError::bad_handle});
    return std::move(closing).send(FileService::Closed{});
}

// Serves requests until the client says Bye.
milk::Result<void> serve(FileTable& table, ServerReady server) {
    for (;;) {
        // In Ready the client speaks: one handler per message it may send.
        // Bye ends the channel, so its handler gets no endpoint and there is
        // no next request.
        using Next = std::optional<milk::Result<ServerReady>>;
        auto next = std::move(server).receive(
            [&](FileService::Open&& request, ServerOpening&& reply) {
                return Next{answer(table, request, std::move(reply))};
            },
            [&](FileService::Read&& request, ServerReading&& reply) {
                return Next{answer(table, request, std::move(reply))};
            },
            [&](FileService::Write&& request, ServerWriting&& reply) {
                return Next{answer(table, request, std::move(reply))};
            },
            [&](FileService::Close&& request, ServerClosing&& reply) {
                return Next{answer(table, request, std::move(reply))};
            },
            [](FileService::Bye&&) { return Next{}; });
        if (!next) return next.error();  // the client went away without Bye
        Next& answered = next.value();
        if (!answered) return {};                               // Bye: the session is over
        if (!answered->ok()) return answered->error();          // the reply could not be sent
        server = std::move(*answered).value();
    }
}

// ---------------------------------------------------------------------------
// The client side (as in ../file-server/main.cpp)

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

// ---------------------------------------------------------------------------
// The processes

void report(const char* who, const milk::Error& error) {
    std::fprintf(stderr, "file-server-process: %s: %s%s%s\n", who, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
}

int run_server(int socket) {
    auto end = milk::process::receive_channel(socket);
    ::close(socket);
    if (!end) {
        report("server: receiving the channel", end.error());
        return 1;
    }
    FileTable table;
    auto served = serve(table, FileService::server(std::move(end).value()));
    if (!served) {
        report("server", served.error());
        return 1;
    }
    return 0;
}

// A server process started from this very binary, and the client's end of
// the channel to it.
struct ServerProcess {
    pid_t pid = -1;
    std::optional<ClientReady> client;
};

std::optional<ServerProcess> start_server(const char* self) {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
        std::perror("file-server-process: socketpair");
        return std::nullopt;
    }
    ServerProcess server;
    server.pid = ::fork();
    if (server.pid == 0) {
        // The socket was made close-on-exec; this copy must survive the exec.
        if (::fcntl(sockets[1], F_SETFD, 0) != 0) std::_Exit(127);
        const std::string fd = std::to_string(sockets[1]);
        ::execl(self, self, "--serve", fd.c_str(), static_cast<char*>(nullptr));
        std::perror("file-server-process: exec");
        std::_Exit(127);
    }
    ::close(sockets[1]);
    if (server.pid < 0) {
        std::perror("file-server-process: fork");
        ::close(sockets[0]);
        return std::nullopt;
    }
    auto pending = milk::process::create_channel();
    if (!pending) {
        report("creating the channel", pending.error());
        ::close(sockets[0]);
        return std::nullopt;
    }
    auto end = milk::process::send_channel(sockets[0], std::move(pending).value());
    ::close(sockets[0]);
    if (!end) {
        report("handing the channel to the server", end.error());
        ::kill(server.pid, SIGKILL);
        ::waitpid(server.pid, nullptr, 0);
        return std::nullopt;
    }
    server.client.emplace(FileService::client(std::move(end).value()));
    return server;
}

bool exited_cleanly(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A server that dies in the middle of a session: the client's next request
// must end in PeerClosed (the pidfd of the server process says it is gone),
// not hang.
bool run_killed_server(const char* self) {
    auto server = start_server(self);
    if (!server) return false;
    auto opened = open_file(std::move(*server->client), "/motd");
    if (!opened) {
        report("killed-server demo: open", opened.error());
        return false;
    }
    std::printf("%-36s -> %s\n", "open \"/motd\"", opened.value().text.c_str());

    ::kill(server->pid, SIGKILL);
    int status = 0;
    ::waitpid(server->pid, &status, 0);
    std::printf("%-36s    (server pid %d killed with SIGKILL)\n", "", static_cast<int>(server->pid));

    auto read = read_file(std::move(opened.value().client), 1, 0, 64);
    if (read) {
        std::printf("%-36s -> %s   << a dead server cannot answer\n", "read handle 1, from 0, 64 bytes",
                    read.value().text.c_str());
        return false;
    }
    std::printf("%-36s -> error: %s (%s)\n", "read handle 1, from 0, 64 bytes", milk::describe(read.error().code),
                read.error().what != nullptr ? read.error().what : "");
    return read.error().code == milk::ErrorCode::PeerClosed && WIFSIGNALED(status);
}

int run(const char* self) {
    auto server = start_server(self);
    if (!server) return 1;
    std::printf("file-server-process: client (pid %d), server (pid %d) started with exec\n",
                static_cast<int>(::getpid()), static_cast<int>(server->pid));
    std::fflush(stdout);  // before the server's own output
    const bool session_ok = run_session(std::move(*server->client));
    const bool server_ok = exited_cleanly(server->pid);
    if (!session_ok || !server_ok) {
        std::printf("file-server-process: FAILED%s\n", server_ok ? "" : " (the server did not exit cleanly)");
        return 1;
    }

    std::printf("\na second server, killed in the middle of its session:\n");
    if (!run_killed_server(self)) {
        std::printf("file-server-process: FAILED: a killed server must read as PeerClosed\n");
        return 1;
    }
    std::printf("file-server-process: every reply as expected\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--serve") == 0) return run_server(std::atoi(argv[2]));
    if (argc != 1) {
        std::fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    // /proc/self/exe rather than argv[0]: the same binary whatever the
    // current directory or PATH.
    return run("/proc/self/exe");
}
