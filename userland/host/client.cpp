#include "milk/host/client.hpp"

#include "fd_passing.hpp"
#include "kernel_placement.hpp"
#include "relocating_transport.hpp"

#include <milk/channel_status.hpp>
#include <milk/process.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace milk::host {
namespace {

using detail::FileDescriptor;

bool copy_name(char (&to)[64], std::string_view from) {
    if (from.size() >= sizeof to) return false;
    std::memcpy(to, from.data(), from.size());
    return true;
}

Error refusal_error(const ConnectReply& reply) {
    const auto code = static_cast<ErrorCode>(reply.code);
    switch (static_cast<ConnectRefusal>(reply.refusal)) {
    case ConnectRefusal::NoSuchInstance: return {ErrorCode::InvalidArgument, "milkd has no instance of that name", 0};
    case ConnectRefusal::OtherContract:
        return {ErrorCode::InvalidArgument, "the instance's component serves another contract", 0};
    case ConnectRefusal::OtherVersion:
        return {ErrorCode::InvalidArgument,
                "the instance's component serves another version (identity) of the contract: detail is the version "
                "it serves",
                reply.detail};
    case ConnectRefusal::InstanceDead: return {ErrorCode::PeerClosed, "the instance's process is dead", reply.detail};
    case ConnectRefusal::BadRequest: return {ErrorCode::ProtocolViolation, "milkd did not understand the request", 0};
    case ConnectRefusal::None:
    case ConnectRefusal::Failed: break;
    }
    return {code, "milkd could not open the channel", reply.detail};
}

// A kernel channel's fd as milkd hands it over: kernel_channel_magic with
// the fd attached. An empty end if milkd hung up instead (it could not
// open the channel; its stderr says why).
Result<ChannelEnd> receive_kernel_channel(int socket, Deadline deadline) {
    std::uint64_t magic = 0;
    auto channel = MILK_TRY(detail::receive_record(socket, detail::writable_bytes_of(magic), deadline));
    if (channel.bytes == 0) return Error{ErrorCode::PeerClosed, "milkd could not open the kernel channel", 0};
    if (channel.bytes != sizeof magic || magic != kernel_channel_magic || !channel.fd.valid())
        return Error{ErrorCode::ProtocolViolation, "milkd's kernel channel record is wrong", 0};
    return detail::adopt_kernel_channel(std::move(channel.fd));
}

// The next channel offered on the socket, whatever its placement: a kernel
// channel's record is 8 bytes (kernel_channel_magic), a process channel's
// hand-over begins with a longer one. The first record is peeked at (its
// descriptor stays queued with it) to tell which.
Result<ChannelEnd> receive_any_channel(int socket, Deadline deadline) {
    for (;;) {
        int timeout_ms = -1;
        if (!deadline.is_never()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.at() - Deadline::Clock::now());
            if (left.count() <= 0) return Error{ErrorCode::TimedOut, "no channel offered before the deadline", 0};
            timeout_ms = static_cast<int>(std::min<long long>(left.count(), 1'000'000));
        }
        pollfd waiting{socket, POLLIN, 0};
        const int ready = ::poll(&waiting, 1, timeout_ms);
        if (ready < 0 && errno != EINTR) return Error{ErrorCode::SystemError, "poll on milkd's socket failed", errno};
        if (ready > 0) break;
    }
    std::uint64_t head[2] = {};
    ssize_t peeked = 0;
    do {
        peeked = ::recv(socket, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    } while (peeked < 0 && errno == EINTR);
    if (peeked == sizeof head[0] && head[0] == kernel_channel_magic) return receive_kernel_channel(socket, deadline);
    return process::receive_channel(socket, deadline);
}

// A successor handed over on the socket the client connected with: milkd
// (or the instance's runner) offers it there when the instance moves, and
// closes the old channel with the reason "moved".
class SocketSuccessor final : public detail::Successor {
public:
    SocketSuccessor(FileDescriptor socket, std::chrono::milliseconds timeout, bool restarts)
        : m_socket(std::move(socket)), m_timeout(timeout), m_restarts(restarts) {}
    [[nodiscard]] std::optional<ChannelEnd> take(const Error& close) override {
        const bool moved = close.detail == moved_close_detail;
        const bool died = close.detail == peer_gone_detail && m_restarts;
        if (close.code != ErrorCode::PeerClosed || !(moved || died) || !m_socket.valid()) return std::nullopt;
        auto next = receive_any_channel(m_socket.get(), Deadline::after(m_timeout));
        if (!next.ok()) return std::nullopt;
        return std::move(next).value();
    }
    void client_gone() noexcept override { m_socket.reset(); }

private:
    FileDescriptor m_socket;
    std::chrono::milliseconds m_timeout;
    bool m_restarts;
};

Result<ChannelEnd> connect_with(const std::string& socket_path, const ConnectRequest& request,
                                const ConnectOptions& options, ReencodeFunction reencode = nullptr,
                                const session::StateMachine* machine = nullptr) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path)
        return Error{ErrorCode::InvalidArgument, "milkd's socket path is empty or too long", 0};
    std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
    FileDescriptor socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!socket.valid()) return Error{ErrorCode::SystemError, "socket() failed", errno};
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        return Error{ErrorCode::SystemError, "cannot connect to milkd's socket (is milkd running?)", errno};

    const Deadline deadline = Deadline::after(options.timeout);
    MILK_TRY(detail::send_record(socket.get(), detail::bytes_of(request)));
    ConnectReply reply;
    auto received = MILK_TRY(detail::receive_record(socket.get(), detail::writable_bytes_of(reply), deadline));
    if (received.bytes == 0) return Error{ErrorCode::PeerClosed, "milkd hung up before it answered", 0};
    if (received.bytes != sizeof reply || reply.magic != connect_magic || received.fd.valid())
        return Error{ErrorCode::ProtocolViolation, "milkd's answer is not a ConnectReply", 0};
    if (reply.refusal != static_cast<std::uint32_t>(ConnectRefusal::None)) return refusal_error(reply);

    auto end = reply.placement == static_cast<std::uint32_t>(Placement::Kernel)
                   ? MILK_TRY(receive_kernel_channel(socket.get(), deadline))
                   : MILK_TRY(process::receive_channel(socket.get(), deadline));
    if ((reply.flags & connect_movable) == 0 || reencode == nullptr || machine == nullptr) return end;
    return detail::relocating(
        std::move(end),
        std::make_shared<SocketSuccessor>(std::move(socket), options.timeout, (reply.flags & connect_restarts) != 0),
        reencode, *machine);
}

}  // namespace

std::string default_socket_path() {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    if (runtime != nullptr && runtime[0] != '\0') return std::string(runtime) + "/milk/milkd.sock";
    return "/run/milk/milkd.sock";
}

Result<ChannelEnd> connect_end(const std::string& socket_path, std::string_view instance, std::string_view contract,
                               std::uint32_t version, const ConnectOptions& options, ReencodeFunction reencode,
                               const session::StateMachine* machine) {
    ConnectRequest request;
    if (!copy_name(request.instance, instance) || !copy_name(request.contract, contract))
        return Error{ErrorCode::InvalidArgument, "an instance or contract name of 64 bytes or more", 0};
    request.version = version;
    return connect_with(socket_path, request, options, reencode, machine);
}

Result<ChannelEnd> connect_control_end(const std::string& socket_path, const ConnectOptions& options) {
    ConnectRequest request;
    request.kind = static_cast<std::uint32_t>(ConnectKind::Control);
    return connect_with(socket_path, request, options);
}

}  // namespace milk::host
