// milkd's daemon loop: a Host, a listening Unix socket, and SIGTERM/SIGINT
// read from a signalfd so that stopping is an ordinary event of the loop.
#include <milk/host/daemon.hpp>

#include "fd_passing.hpp"
#include "socket_serving.hpp"

#include <milk/host/client.hpp>
#include <milk/host/control.hpp>
#include <milk/host/host.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace milk::host {
namespace {

using detail::FileDescriptor;

// How long a connecting client has to send its request.
constexpr auto request_timeout = std::chrono::seconds(1);

// The host as the control channels see it: they may outlive the daemon loop
// by a little (a milkctl that keeps its channel open), so they reach the
// host through this, which the loop empties before the host is destroyed.
struct SharedHost {
    std::mutex lock;
    Host* host = nullptr;

    std::vector<InstanceStatus> status() {
        std::lock_guard guard(lock);
        return host != nullptr ? host->status() : std::vector<InstanceStatus>{};
    }
    Result<void> move(std::string_view instance, Placement placement) {
        std::lock_guard guard(lock);
        if (host == nullptr) return Error{ErrorCode::PeerClosed, "milkd is stopping", 0};
        return host->move(instance, placement);
    }
    // Records for `duration`; the lock is not held meanwhile, so that
    // status and moves (which the trace records) go on.
    Trace trace(std::chrono::milliseconds duration) {
        {
            std::lock_guard guard(lock);
            if (host == nullptr) return {};
            host->start_trace();
        }
        std::this_thread::sleep_for(duration);
        std::lock_guard guard(lock);
        if (host == nullptr) return {};
        return host->stop_trace();
    }
};

Result<FileDescriptor> listen_on(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        std::fprintf(stderr, "milkd: the socket path %s is too long\n", path.c_str());
        return Error{ErrorCode::InvalidArgument, "milkd: the socket path is too long", 0};
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ignored;
    if (!parent.empty() && std::filesystem::create_directories(parent, ignored))
        std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ignored);

    FileDescriptor socket(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!socket.valid()) return Error{ErrorCode::SystemError, "milkd: socket() failed", errno};
    // A socket file left by a milkd that died is taken over; one that a
    // running milkd answers on is not.
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        std::fprintf(stderr, "milkd: another milkd serves %s\n", path.c_str());
        return Error{ErrorCode::InvalidArgument, "milkd: another milkd serves the socket", 0};
    }
    socket = FileDescriptor(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!socket.valid()) return Error{ErrorCode::SystemError, "milkd: socket() failed", errno};
    ::unlink(path.c_str());
    if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(socket.get(), 64) != 0) {
        const int error = errno;
        std::fprintf(stderr, "milkd: cannot listen on %s: %s\n", path.c_str(), std::strerror(error));
        return Error{ErrorCode::SystemError, "milkd: cannot listen on the socket", error};
    }
    return socket;
}

void reply(int socket, ConnectRefusal refusal, const Error& error, std::uint32_t placement = 0, std::uint32_t flags = 0) {
    ConnectReply answer;
    answer.refusal = static_cast<std::uint32_t>(refusal);
    answer.code = refusal == ConnectRefusal::None ? 0 : static_cast<std::uint32_t>(error.code);
    answer.placement = placement;
    answer.flags = flags;
    answer.detail = error.detail;
    static_cast<void>(detail::send_record(socket, detail::bytes_of(answer)));
}

// One connection: its request, the answer, and the hand-over of a channel.
void serve_connection(FileDescriptor client, Host& host, const std::shared_ptr<SharedHost>& shared) {
    ConnectRequest request;
    auto received = detail::receive_record(client.get(), detail::writable_bytes_of(request),
                                           Deadline::after(request_timeout));
    const Error bad{ErrorCode::ProtocolViolation, "not a ConnectRequest", 0};
    if (!received.ok() || received.value().bytes != sizeof request || received.value().fd.valid() ||
        request.magic != connect_magic || request.protocol != connect_protocol_version ||
        request.instance[sizeof request.instance - 1] != '\0' || request.contract[sizeof request.contract - 1] != '\0')
        return reply(client.get(), ConnectRefusal::BadRequest, bad);

    if (request.kind == static_cast<std::uint32_t>(ConnectKind::Control)) {
        reply(client.get(), ConnectRefusal::None, {}, static_cast<std::uint32_t>(Placement::Inproc));
        detail::serve_over_socket(
            std::move(client),
            [shared](ChannelEnd&& end) {
                return serve_control(
                    std::move(end), [shared] { return shared->status(); },
                    [shared](std::string_view instance, Placement placement) { return shared->move(instance, placement); },
                    [shared](std::chrono::milliseconds duration) { return shared->trace(duration); });
            },
            std::chrono::milliseconds(5000));
        return;
    }
    if (request.kind != static_cast<std::uint32_t>(ConnectKind::Instance))
        return reply(client.get(), ConnectRefusal::BadRequest, bad);

    const std::string_view name(request.instance);
    const std::string_view contract(request.contract);
    for (const InstanceStatus& instance : host.status()) {
        if (instance.name != name) continue;
        if (instance.contract != contract) return reply(client.get(), ConnectRefusal::OtherContract, {ErrorCode::InvalidArgument});
        if (instance.version != request.version)
            return reply(client.get(), ConnectRefusal::OtherVersion, {ErrorCode::InvalidArgument, nullptr, instance.version});
        if (instance.state != InstanceState::Running)
            return reply(client.get(), ConnectRefusal::InstanceDead, {ErrorCode::PeerClosed, nullptr, instance.pid});
        reply(client.get(), ConnectRefusal::None, {}, static_cast<std::uint32_t>(instance.placement),
              (instance.movable ? std::uint32_t{connect_movable} : 0u) |
                  (instance.movable && instance.restartable ? std::uint32_t{connect_restarts} : 0u));
        auto handed = host.hand_over(name, contract, request.version, std::move(client).take());
        if (!handed.ok())
            std::fprintf(stderr, "milkd: instance %s: handing a channel over failed: %s\n", instance.name.c_str(),
                         handed.error().what != nullptr ? handed.error().what : describe(handed.error().code));
        return;
    }
    reply(client.get(), ConnectRefusal::NoSuchInstance, {ErrorCode::InvalidArgument});
}

}  // namespace

Result<void> run_daemon(const Config& config, const DaemonOptions& options) {
    // Blocked before any thread starts, so that every thread inherits the
    // mask and the signals wait in the signalfd (runners unblock them).
    sigset_t stop_signals;
    ::sigemptyset(&stop_signals);
    ::sigaddset(&stop_signals, SIGTERM);
    ::sigaddset(&stop_signals, SIGINT);
    if (::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0)
        return Error{ErrorCode::SystemError, "milkd: blocking SIGTERM and SIGINT failed", errno};
    FileDescriptor signals(::signalfd(-1, &stop_signals, SFD_CLOEXEC));
    if (!signals.valid()) return Error{ErrorCode::SystemError, "milkd: signalfd failed", errno};

    const std::string path = options.socket_path.empty() ? default_socket_path() : options.socket_path;
    FileDescriptor listener = MILK_TRY(listen_on(path));

    auto created = Host::try_create(config, compiled_components());
    if (!created.ok()) {
        ::unlink(path.c_str());
        return created.error();
    }
    auto host = std::make_unique<Host>(std::move(created).value());
    auto shared = std::make_shared<SharedHost>();
    shared->host = host.get();
    std::fprintf(stderr, "milkd: %zu instances, serving %s\n", config.instances.size(), path.c_str());
    for (const InstanceStatus& instance : host->status())
        std::fprintf(stderr, "milkd:   %s: %s, %s, pid %d\n", instance.name.c_str(), instance.component.c_str(),
                     std::string(placement_name(instance.placement)).c_str(), static_cast<int>(instance.pid));

    for (;;) {
        pollfd events[2] = {{listener.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
        if (::poll(events, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if ((events[1].revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            static_cast<void>(::read(signals.get(), &info, sizeof info));
            std::fprintf(stderr, "milkd: signal %u: stopping\n", info.ssi_signo);
            break;
        }
        if ((events[0].revents & POLLIN) != 0) {
            FileDescriptor client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (client.valid()) serve_connection(std::move(client), *host, shared);
        }
    }
    {
        std::lock_guard guard(shared->lock);
        shared->host = nullptr;
    }
    host.reset();  // stops and reaps the runners
    ::unlink(path.c_str());
    return {};
}

}  // namespace milk::host
