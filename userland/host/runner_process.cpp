#include "runner_process.hpp"

#include "runner_protocol.hpp"

#include <milk/host/movable.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace milk::host::detail {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int signal) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

}  // namespace

std::string runner_path(const std::string& configured) {
    if (!configured.empty()) return configured;
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return "milk-runner";
    return (self.parent_path() / "milk-runner").string();
}

Result<std::unique_ptr<RunnerProcess>> RunnerProcess::try_spawn(const std::string& path, const InstanceConfig& instance,
                                                                int counters_fd, std::chrono::milliseconds stop_timeout,
                                                                std::function<void()> on_death) {
    if (::access(path.c_str(), X_OK) != 0)
        return Error{ErrorCode::InvalidArgument, "the runner (milk-runner) is not an executable file", errno};
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0)
        return Error{ErrorCode::SystemError, "socketpair for a runner failed", errno};
    FileDescriptor ours(sockets[0]);
    FileDescriptor theirs(sockets[1]);

    // Everything exec needs is made before fork: the child of a threaded
    // program may only make async-signal-safe calls.
    std::vector<std::string> words{path, "--instance", instance.name, "--component", instance.component};
    for (std::size_t i = 0; i < instance.settings.size(); ++i) {
        // Text goes as is (exec passes any bytes but NUL, which Settings
        // refuses), under its own option so that "10" stays text.
        const bool text = instance.settings[i].kind == Settings::Kind::Text;
        words.emplace_back(text ? "--text-setting" : "--setting");
        words.push_back(std::string(instance.settings.name_of(i)) + "=" +
                        (text ? std::string(instance.settings.text_of(i)) : std::to_string(instance.settings[i].value)));
    }
    words.insert(words.end(), {"--control-fd", std::to_string(theirs.get()), "--counters-fd", std::to_string(counters_fd),
                               "--spin-us", std::to_string(instance.spin.count())});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) return Error{ErrorCode::SystemError, "fork of a runner failed", errno};
    if (pid == 0) {
        // milkd blocks SIGTERM and SIGINT to read them from a signalfd; the
        // mask survives exec, and a runner must die of them as usual.
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        // Both descriptors were made close-on-exec; these two must survive.
        if (::fcntl(sockets[1], F_SETFD, 0) != 0 || ::fcntl(counters_fd, F_SETFD, 0) != 0) std::_Exit(127);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    theirs.reset();
    // Our child cannot be reaped by anyone but us, so its pid cannot be
    // reused before the pidfd is open: the pidfd names the runner.
    FileDescriptor pidfd(pidfd_open(pid));
    if (!pidfd.valid()) {
        const int error = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return Error{ErrorCode::SystemError, "pidfd_open of a runner failed", error};
    }
    return std::unique_ptr<RunnerProcess>(
        new RunnerProcess(pid, std::move(pidfd), std::move(ours), stop_timeout, std::move(on_death)));
}

RunnerProcess::RunnerProcess(pid_t pid, FileDescriptor pidfd, FileDescriptor control,
                             std::chrono::milliseconds stop_timeout, std::function<void()> on_death)
    : m_pid(pid),
      m_pidfd(std::move(pidfd)),
      m_control(std::move(control)),
      m_stop_timeout(stop_timeout),
      m_on_death(std::move(on_death)) {
    m_watcher = std::thread([this] { watch(); });
}

void RunnerProcess::watch() {
    siginfo_t info{};
    int waited = 0;
    do {
        waited = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(m_pidfd.get()), &info, WEXITED);
    } while (waited != 0 && errno == EINTR);
    Fate fate;
    if (waited != 0) {
        fate = {InstanceState::Exited, -1};
    } else if (info.si_code == CLD_EXITED) {
        fate = {InstanceState::Exited, info.si_status};
    } else {
        fate = {InstanceState::Killed, info.si_status};
    }
    {
        std::lock_guard lock(m_lock);
        m_fate = fate;
        m_gone.notify_all();
    }
    if (m_on_death) m_on_death();
}

RunnerProcess::~RunnerProcess() {
    {
        std::lock_guard lock(m_control_lock);
        m_control.reset();
    }
    if (!wait_gone(m_stop_timeout)) pidfd_send_signal(m_pidfd.get(), SIGKILL);
    m_watcher.join();
}

Result<void> RunnerProcess::request_channel(int socket, std::uint64_t channel, std::span<const std::byte> snapshot) {
    if (fate().state != InstanceState::Running)
        return Error{ErrorCode::PeerClosed, "the instance's process is dead", m_pid};
    RunnerRequest request;
    request.channel = channel;
    request.snapshot_bytes = snapshot.size();
    std::lock_guard lock(m_control_lock);
    MILK_TRY(send_record(m_control.get(), bytes_of(request), socket));
    return send_chunks(m_control.get(), snapshot, snapshot_chunk);
}

Result<std::vector<std::byte>> RunnerProcess::park(std::uint64_t channel, std::chrono::milliseconds timeout) {
    if (fate().state != InstanceState::Running)
        return Error{ErrorCode::PeerClosed, "the instance's process is dead", m_pid};
    RunnerRequest request;
    request.kind = static_cast<std::uint32_t>(RunnerRequestKind::Park);
    request.timeout_ms = static_cast<std::uint32_t>(timeout.count());
    request.channel = channel;
    std::lock_guard lock(m_control_lock);
    MILK_TRY(send_record(m_control.get(), bytes_of(request)));
    // The runner answers within the timeout; a little more for the trip.
    const Deadline deadline = Deadline::after(timeout + std::chrono::seconds(2));
    RunnerReply reply;
    auto received = MILK_TRY(receive_record(m_control.get(), writable_bytes_of(reply), deadline));
    if (received.bytes == 0) return Error{ErrorCode::PeerClosed, "the runner closed its control socket", m_pid};
    if (received.bytes != sizeof reply || reply.magic != runner_magic || reply.channel != channel ||
        reply.snapshot_bytes > max_snapshot_bytes)
        return Error{ErrorCode::ProtocolViolation, "the runner's answer to Park is malformed", 0};
    if (reply.code == static_cast<std::uint32_t>(ErrorCode::PeerClosed))
        return Error{ErrorCode::PeerClosed, "the channel's session ended", 0};
    if (reply.code == static_cast<std::uint32_t>(ErrorCode::WouldBlock))
        return Error{ErrorCode::WouldBlock, "the channel's client has not taken it yet", 0};
    if (reply.code == static_cast<std::uint32_t>(ErrorCode::TimedOut))
        return Error{ErrorCode::TimedOut, "the component did not reach a cut point", 0};
    if (reply.code != 0) return Error{ErrorCode::ProtocolViolation, "the runner's answer to Park is malformed", 0};
    std::vector<std::byte> snapshot(reply.snapshot_bytes);
    MILK_TRY(receive_chunks(m_control.get(), snapshot, snapshot_chunk, deadline));
    return snapshot;
}

Result<void> RunnerProcess::retire(std::uint64_t channel) { return decide(RunnerRequestKind::Retire, channel); }

Result<void> RunnerProcess::resume(std::uint64_t channel) { return decide(RunnerRequestKind::Resume, channel); }

Result<void> RunnerProcess::decide(RunnerRequestKind kind, std::uint64_t channel) {
    RunnerRequest request;
    request.kind = static_cast<std::uint32_t>(kind);
    request.channel = channel;
    std::lock_guard lock(m_control_lock);
    return send_record(m_control.get(), bytes_of(request));
}

RunnerProcess::Fate RunnerProcess::fate() const {
    std::lock_guard lock(m_lock);
    return m_fate;
}

bool RunnerProcess::wait_gone(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(m_lock);
    return m_gone.wait_for(lock, timeout, [this] { return m_fate.state != InstanceState::Running; });
}

}  // namespace milk::host::detail
