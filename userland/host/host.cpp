#include "milk/host/host.hpp"

#include "host_internal.hpp"
#include "kernel_placement.hpp"
#include "socket_serving.hpp"

#include <milk/host/client.hpp>

#include <milk/inproc.hpp>
#include <milk/process.hpp>
#include "fd_passing.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <cstdio>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace milk::host {
namespace {

// The component's side of one channel in a thread of this process; `end`
// is already counted.
// An inproc channel whose ends spin for `spin_us` (the config's) before they
// sleep: both ends are in this process, so both take it.
inproc::Options inproc_options(const InstanceConfig& config) {
    inproc::Options options;
    options.spin_budget = config.spin;
    return options;
}

void serve_inproc(const ComponentType* type, Settings settings, ChannelEnd&& end, const std::string& instance) {
    auto served = type->serve(settings, std::move(end));
    if (!served.ok() && served.error().code != ErrorCode::PeerClosed) {
        std::fprintf(stderr, "milk host: instance %s: %s%s%s\n", instance.c_str(), describe(served.error().code),
                     served.error().what != nullptr ? ": " : "",
                     served.error().what != nullptr ? served.error().what : "");
    }
}

}  // namespace

std::string_view instance_state_name(InstanceState state) {
    switch (state) {
    case InstanceState::Running: return "running";
    case InstanceState::Exited: return "exited";
    case InstanceState::Killed: return "killed";
    }
    return "unknown";
}

std::string describe_state(const InstanceStatus& status) {
    switch (status.state) {
    case InstanceState::Running:
        return status.restarts == 0 ? "running" : "running (restarted " + std::to_string(status.restarts) + ")";
    case InstanceState::Exited: return "dead (exit " + std::to_string(status.code) + ")";
    case InstanceState::Killed: {
        const char* name = ::sigabbrev_np(status.code);
        return "dead (signal " + std::to_string(status.code) + (name != nullptr ? std::string(" SIG") + name : "") + ")";
    }
    }
    return "unknown";
}

namespace {

// A runner for `instance`, whose death the supervisor hears of.
Result<std::unique_ptr<detail::RunnerProcess>> spawn_runner(Host::Instance& instance,
                                                           const std::shared_ptr<Host::Supervisor>& supervisor) {
    return detail::RunnerProcess::try_spawn(
        detail::runner_path(instance.options.runner_path), instance.config, instance.counters->fd(),
        instance.options.stop_timeout, [supervisor, target = &instance] { supervisor->report(target); });
}

// A client of `channel` gets no successor: its channel died with the
// process (PeerClosed).
void refuse(const HostChannel& channel) {
    if (channel.successor) {
        channel.successor->refuse();
        return;
    }
    // The client waits for a hand-over on its socket: a refusal ends the wait.
    process::HandshakeMessage refusal;
    refusal.kind = static_cast<std::uint32_t>(process::HandshakeKind::Refuse);
    refusal.code = static_cast<std::uint32_t>(ErrorCode::PeerClosed);
    static_cast<void>(detail::send_record(channel.remote->get(), detail::bytes_of(refusal)));
}

void restart(Host::Instance& instance, const std::shared_ptr<Host::Supervisor>& supervisor);

}  // namespace

void supervise(Host::Supervisor* supervisor) {
    for (;;) {
        Host::Instance* instance = nullptr;
        {
            std::unique_lock guard(supervisor->lock);
            supervisor->wake.wait(guard, [&] { return supervisor->stopping || !supervisor->dead.empty(); });
            if (supervisor->stopping) return;
            instance = supervisor->dead.front();
            supervisor->dead.pop_front();
        }
        restart(*instance, supervisor->shared_from_this());
    }
}

Result<Host> Host::try_create(const Config& config, std::span<const ComponentType> components,
                              const HostOptions& options) {
    Host host;
    host.m_supervisor = std::make_shared<Supervisor>();
    host.m_supervisor->thread = std::thread(supervise, host.m_supervisor.get());
    for (const InstanceConfig& instance_config : config.instances) {
        auto instance = std::make_unique<Instance>();
        instance->config = instance_config;
        instance->options = options;
        instance->type = find_component(components, instance_config.component);
        // load_config checked both; a Config made by hand is checked again
        // here, because a host never runs something other than asked.
        if (instance->type == nullptr) {
            std::fprintf(stderr, "milk host: instance %s: no component '%s' in this host\n",
                         instance_config.name.c_str(), instance_config.component.c_str());
            return Error{ErrorCode::InvalidArgument, "an instance names a component this host does not have", 0};
        }
        if (!instance->type->placements.contains(instance_config.placement)) {
            std::fprintf(stderr, "milk host: instance %s: component '%s' cannot run at placement %s\n",
                         instance_config.name.c_str(), instance_config.component.c_str(),
                         std::string(placement_name(instance_config.placement)).c_str());
            return Error{ErrorCode::InvalidArgument, "an instance's component does not support its placement", 0};
        }
        switch (instance_config.placement) {
        case Placement::Inproc: {
            // A movable instance may move to a runner, which counts in the
            // same page: a memfd then.
            auto page = instance->type->movable() ? detail::CounterPage::try_create_shared()
                                                  : detail::CounterPage::try_create_private();
            if (!page.ok()) return page.error();
            instance->counters = std::make_shared<const detail::CounterPage>(std::move(page).value());
            break;
        }
        case Placement::Process: {
            auto page = detail::CounterPage::try_create_shared();
            if (!page.ok()) return page.error();
            instance->counters = std::make_shared<const detail::CounterPage>(std::move(page).value());
            auto runner = spawn_runner(*instance, host.m_supervisor);
            if (!runner.ok()) {
                std::fprintf(stderr, "milk host: instance %s: cannot start the runner %s\n",
                             instance_config.name.c_str(), detail::runner_path(options.runner_path).c_str());
                return runner.error();
            }
            instance->runner = std::move(runner).value();
            break;
        }
        case Placement::Kernel: {
            // A kernel instance is the module's component: each channel
            // opens on connect. Whether the module has it was checked with
            // the config (KernelProbe). A movable one counts in a page of
            // its own once it moves to user space.
            if (!instance->type->movable()) break;
            auto page = detail::CounterPage::try_create_shared();
            if (!page.ok()) return page.error();
            instance->counters = std::make_shared<const detail::CounterPage>(std::move(page).value());
            break;
        }
        }
        host.m_instances.push_back(std::move(instance));
    }
    return host;
}

Host::Host(Host&&) noexcept = default;

Host& Host::operator=(Host&& other) noexcept {
    if (this != &other) {
        if (m_supervisor) m_supervisor->stop();
        m_supervisor = std::move(other.m_supervisor);
        m_instances = std::move(other.m_instances);
    }
    return *this;
}

// The supervisor stops first: no restart races with the runners' end.
Host::~Host() {
    if (m_supervisor) m_supervisor->stop();
}

Result<Host::Instance*> Host::find(std::string_view name, std::string_view contract, std::uint32_t version) const {
    for (const auto& instance : m_instances) {
        if (instance->config.name != name) continue;
        if (contract != instance->type->contract)
            return Error{ErrorCode::InvalidArgument, "the instance's component serves another contract", 0};
        if (version != instance->type->version)
            return Error{ErrorCode::InvalidArgument,
                         "the instance's component serves another version (identity) of the contract: detail is the "
                         "version it serves",
                         instance->type->version};
        return instance.get();
    }
    return Error{ErrorCode::InvalidArgument, "no instance of that name in this host", 0};
}

std::optional<Placement> Host::placement_of(std::string_view name) const {
    for (const auto& instance : m_instances) {
        if (instance->config.name != name) continue;
        std::lock_guard lock(instance->lock);
        return instance->config.placement;
    }
    return std::nullopt;
}

const InstanceConfig* Host::instance_config(std::string_view name) const {
    for (const auto& instance : m_instances)
        if (instance->config.name == name) return &instance->config;
    return nullptr;
}

const ComponentType* Host::component_type(std::string_view name) const {
    for (const auto& instance : m_instances)
        if (instance->config.name == name) return instance->type;
    return nullptr;
}

bool HostChannel::client_gone() const {
    if (successor) return successor->is_client_gone();
    // The client's process closed its socket (it ended its channel, or
    // exited).
    pollfd poll{remote->get(), POLLRDHUP, 0};
    return ::poll(&poll, 1, 0) == 1 && (poll.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

namespace {

// A channel that the instance's runner creates and hands over to us: the
// client's end. `channel` is the host's name for it (0: never moved), and
// the component starts from `snapshot` when it is not empty.
Result<ChannelEnd> channel_from_runner(Host::Instance& instance, std::uint64_t channel,
                                       std::span<const std::byte> snapshot) {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0)
        return Error{ErrorCode::SystemError, "socketpair for a channel hand-over failed", errno};
    detail::FileDescriptor ours(sockets[0]);
    {
        detail::FileDescriptor theirs(sockets[1]);
        MILK_TRY(instance.runner->request_channel(theirs.get(), channel, snapshot));
    }
    // The runner's offer comes with its credentials, from which the
    // channel's end learns the runner's pid and watches it.
    return process::receive_channel(ours.get(), Deadline::after(instance.options.handover_timeout));
}

// For a client in another process: offers a channel served here on its
// socket, in a thread of its own (the client takes it when it is ready; a
// successor, when its old channel closes), and seats the component on it.
std::shared_ptr<detail::ChannelSeat> offer_inproc(Host::Instance& instance, detail::FileDescriptor socket,
                                                  std::vector<std::byte> snapshot, Deadline deadline) {
    auto seat = detail::ChannelSeat::reserve(*instance.type, instance.config.settings, instance.config.name);
    std::thread([seat, socket = std::move(socket), snapshot = std::move(snapshot), deadline,
                 counters = instance.counters, type = instance.type]() mutable {
        auto pending = process::create_channel();
        auto end = pending.ok() ? process::send_channel(socket.get(), std::move(pending).value(), deadline)
                                : Result<ChannelEnd>(pending.error());
        if (!end.ok()) return seat->abandon();
        seat->begin(std::move(snapshot), detail::counted(std::move(end).value(), counters, type->machine));
    }).detach();
    return seat;
}

Result<detail::FileDescriptor> duplicate(const detail::FileDescriptor& socket) {
    detail::FileDescriptor copy(::fcntl(socket.get(), F_DUPFD_CLOEXEC, 0));
    if (!copy.valid()) return Error{ErrorCode::SystemError, "dup of a client's socket failed", errno};
    return copy;
}

// A new kernel channel to the instance's component, restored from
// `snapshot` unless it is empty: the fd for the client, and a duplicate
// in `channel` for the host's moves.
Result<detail::FileDescriptor> open_kernel_fd(Host::Instance& instance, std::span<const std::byte> snapshot,
                                              HostChannel& channel) {
    auto fd = MILK_TRY(
        detail::open_kernel_channel_fd(*instance.type, instance.config.name, instance.config.settings, snapshot));
    channel.kernel = std::make_shared<detail::FileDescriptor>(MILK_TRY(duplicate(fd)));
    return fd;
}

// Opens a channel to a movable instance's component at `placement`, served
// from `snapshot` (empty: a new component), for `channel`'s client: the
// client's end for a client in this process; for one in another process,
// the channel is offered on its socket and the end returned is empty. The
// channel's record gets its seat or runner id.
Result<ChannelEnd> open_movable(Host::Instance& instance, Placement placement, std::span<const std::byte> snapshot,
                                HostChannel& channel) {
    channel.placement = placement;
    if (channel.remote) {
        // A first channel has the usual hand-over time; a successor waits
        // for as long as its client takes to come back to its channel.
        const Deadline deadline = snapshot.empty() ? Deadline::after(instance.options.handover_timeout)
                                                   : Deadline::never();
        auto socket = MILK_TRY(duplicate(*channel.remote));
        switch (placement) {
        case Placement::Inproc:
            channel.seat = offer_inproc(instance, std::move(socket), std::vector<std::byte>(snapshot.begin(), snapshot.end()),
                                        deadline);
            return ChannelEnd{};
        case Placement::Process:
            channel.runner_channel = instance.next_channel++;
            MILK_TRY(instance.runner->request_channel(socket.get(), channel.runner_channel, snapshot));
            return ChannelEnd{};
        case Placement::Kernel: {
            // milk.ko's fd goes to the client, which maps the channel and
            // kicks it; the host keeps a duplicate to park it.
            auto fd = MILK_TRY(open_kernel_fd(instance, snapshot, channel));
            MILK_TRY(detail::send_record(socket.get(), detail::bytes_of(kernel_channel_magic), fd.get()));
            return ChannelEnd{};
        }
        }
        return Error{ErrorCode::InvalidArgument, "unknown placement", 0};
    }
    switch (placement) {
    case Placement::Inproc: {
        auto pair = MILK_TRY(inproc::open_channel(inproc_options(instance.config)));
        channel.seat = detail::ChannelSeat::start(
            *instance.type, instance.config.settings, std::vector<std::byte>(snapshot.begin(), snapshot.end()),
            detail::counted(std::move(pair.second), instance.counters, instance.type->machine), instance.config.name);
        return std::move(pair.first);
    }
    case Placement::Process:
        channel.runner_channel = instance.next_channel++;
        return channel_from_runner(instance, channel.runner_channel, snapshot);
    case Placement::Kernel:
        return detail::adopt_kernel_channel(MILK_TRY(open_kernel_fd(instance, snapshot, channel)));
    }
    return Error{ErrorCode::InvalidArgument, "unknown placement", 0};
}

Result<std::vector<std::byte>> park(Host::Instance& instance, const HostChannel& channel, Deadline deadline) {
    if (channel.placement == Placement::Inproc) return channel.seat->park(deadline);
    // Between two kicks the kernel's component owes nothing: no waiting.
    if (channel.placement == Placement::Kernel) return detail::park_kernel_channel(*channel.kernel);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.at() - Deadline::Clock::now());
    return instance.runner->park(channel.runner_channel, std::max(left, std::chrono::milliseconds(1)));
}

void settle(Host::Instance& instance, const HostChannel& channel, bool resume) {
    if (channel.placement == Placement::Inproc) {
        if (resume) channel.seat->resume();
        else channel.seat->retire();
        return;
    }
    if (channel.placement == Placement::Kernel) {
        // A channel the kernel closed meanwhile (a violation) stays closed.
        static_cast<void>(resume ? detail::resume_kernel_channel(*channel.kernel)
                                 : detail::retire_kernel_channel(*channel.kernel));
        return;
    }
    // A runner that died meanwhile took the channel with it.
    static_cast<void>(resume ? instance.runner->resume(channel.runner_channel)
                             : instance.runner->retire(channel.runner_channel));
}

void restart(Host::Instance& instance, const std::shared_ptr<Host::Supervisor>& supervisor) {
    std::lock_guard lock(instance.lock);
    if (!instance.runner) return;
    const auto fate = instance.runner->fate();
    // A runner exits 0 only when its host closed its control socket.
    if (fate.state == InstanceState::Running || (fate.state == InstanceState::Exited && fate.code == 0)) return;
    // Its channels died with it: counted closed.
    instance.counters->retire_dead(instance.runner->pid());
    std::vector<HostChannel> lost;
    std::vector<HostChannel> kept;
    for (HostChannel& channel : instance.channels)
        (channel.placement == Placement::Process ? lost : kept).push_back(std::move(channel));
    instance.channels = std::move(kept);
    const auto give_up = [&](const char* why) {
        std::fprintf(stderr, "milk host: instance %s: its process died (%s %d); %s\n", instance.config.name.c_str(),
                     fate.state == InstanceState::Killed ? "signal" : "exit", fate.code, why);
        for (const HostChannel& channel : lost) refuse(channel);
    };
    // A process it left behind on a move, or one it may not restart.
    if (instance.config.placement != Placement::Process || instance.config.restart != RestartPolicy::OnFailure)
        return give_up("not restarted (restart = \"never\")");
    const auto now = std::chrono::steady_clock::now();
    while (!instance.recent_restarts.empty() && now - instance.recent_restarts.front() > std::chrono::minutes(1))
        instance.recent_restarts.pop_front();
    if (instance.recent_restarts.size() >= instance.config.restart_limit)
        return give_up("not restarted: restart_limit restarts in the last minute");
    auto runner = spawn_runner(instance, supervisor);
    if (!runner.ok()) return give_up("the new process did not start");
    instance.runner = std::move(runner).value();
    instance.recent_restarts.push_back(now);
    ++instance.restarts;
    if (instance.tracing) {
        TraceEvent event;
        event.kind = TraceEvent::Kind::Restart;
        event.time_ns = trace_clock_ns();
        event.instance = instance.config.name;
        event.contract = instance.type->contract;
        event.name = std::string(fate.state == InstanceState::Killed ? "killed by signal " : "exited ") +
                     std::to_string(fate.code) + ", restarted";
        instance.trace_events.push_back(std::move(event));
    }
    // A channel goes on, transparently, only where nothing was lost with
    // the process: a component without state, which owed no answer. The
    // host cannot tell the second (a message taken from the ring an instant
    // before the kill shows nowhere yet); the client's end can, exactly
    // (relocating_transport.hpp): it takes the successor or drops it. Its
    // unconsumed messages are sent again on the new channel.
    for (HostChannel& channel : lost) {
        if (instance.type->statefulness != Statefulness::Stateless) {
            refuse(channel);
            continue;
        }
        HostChannel next;
        next.successor = channel.successor;
        next.remote = channel.remote;
        auto end = open_movable(instance, Placement::Process, {}, next);
        if (!end.ok()) {
            refuse(channel);
            continue;
        }
        if (next.successor) next.successor->post(std::move(end).value());
        instance.channels.push_back(std::move(next));
    }
}

}  // namespace

Result<void> Host::move(std::string_view name, Placement target, std::chrono::milliseconds timeout) {
    Instance* instance = nullptr;
    for (const auto& candidate : m_instances)
        if (candidate->config.name == name) instance = candidate.get();
    if (instance == nullptr) return Error{ErrorCode::InvalidArgument, "no instance of that name in this host", 0};
    if (!instance->type->movable())
        return Error{ErrorCode::InvalidArgument,
                     "the instance's component serves whole sessions (serve()), whose state no snapshot holds: only "
                     "step components can be moved",
                     0};
    std::lock_guard lock(instance->lock);
    const std::uint64_t move_began = trace_clock_ns();
    const Placement from = instance->config.placement;
    if (from == target) return {};
    if (!instance->type->placements.contains(target))
        return Error{ErrorCode::InvalidArgument, "the instance's component cannot run at that placement", 0};
    // Asked first, so that a move with no channel to carry is refused as
    // well when the module cannot take the component.
    if (target == Placement::Kernel) MILK_TRY(detail::check_kernel_component(*instance->type));
    if (target == Placement::Process) {
        // The first move there starts the runner; one kept from an earlier
        // stay that has died since (nobody restarts a runner the instance
        // does not run in) is replaced.
        if (!instance->runner || instance->runner->fate().state != InstanceState::Running) {
            if (instance->runner) instance->counters->retire_dead(instance->runner->pid());
            instance->runner = MILK_TRY(spawn_runner(*instance, m_supervisor));
        }
    }
    std::erase_if(instance->channels, [](const HostChannel& channel) { return channel.client_gone(); });

    // 1. Every channel stops at a cut point; a session that ended meanwhile
    // is dropped. Anything else undoes what was done: nothing moves.
    const Deadline deadline = Deadline::after(timeout);
    std::vector<std::vector<std::byte>> snapshots;
    std::vector<HostChannel> parked;
    const auto undo = [&](const Error& error) -> Error {
        for (const HostChannel& channel : parked) settle(*instance, channel, true);
        return error;
    };
    // A channel still on its way to a client in another process stays
    // where it is; the next move takes it along.
    std::vector<HostChannel> staying;
    for (HostChannel& channel : instance->channels) {
        auto snapshot = park(*instance, channel, deadline);
        if (!snapshot.ok()) {
            if (snapshot.error().code == ErrorCode::PeerClosed) continue;
            if (snapshot.error().code == ErrorCode::WouldBlock) {
                staying.push_back(channel);
                continue;
            }
            return undo(snapshot.error());
        }
        // The target must be able to restore it before it is asked to.
        if (auto checked = instance->type->check_snapshot(instance->config.settings, snapshot.value()); !checked.ok()) {
            parked.push_back(channel);
            return undo(checked.error());
        }
        snapshots.push_back(std::move(snapshot).value());
        parked.push_back(channel);
    }
    // 2. The successors, each served from its snapshot at the target.
    std::vector<HostChannel> moved;
    std::vector<ChannelEnd> successors;
    for (std::size_t i = 0; i < parked.size(); ++i) {
        HostChannel next;
        next.successor = parked[i].successor;
        next.remote = parked[i].remote;
        auto end = open_movable(*instance, target, snapshots[i], next);
        if (!end.ok()) return undo(end.error());  // the successors made so far close unseen
        moved.push_back(std::move(next));
        successors.push_back(std::move(end).value());
    }
    // 3. Commit: each client gets its successor, then its old channel
    // closes, which is what sends the client looking for it.
    for (std::size_t i = 0; i < parked.size(); ++i) {
        if (parked[i].successor) parked[i].successor->post(std::move(successors[i]));
        settle(*instance, parked[i], false);
    }
    for (HostChannel& channel : staying) moved.push_back(std::move(channel));
    instance->channels = std::move(moved);
    instance->config.placement = target;
    if (instance->tracing) {
        TraceEvent event;
        event.kind = TraceEvent::Kind::Move;
        event.time_ns = move_began;
        event.duration_ns = trace_clock_ns() - move_began;
        event.instance = instance->config.name;
        event.contract = instance->type->contract;
        event.name = std::string(placement_name(from)) + " -> " + std::string(placement_name(target));
        instance->trace_events.push_back(std::move(event));
    }
    return {};
}

Result<ChannelEnd> Host::connect_end(std::string_view name, std::string_view contract, std::uint32_t version) {
    Instance* instance = MILK_TRY(find(name, contract, version));
    if (instance->type->movable()) {
        std::lock_guard lock(instance->lock);
        std::erase_if(instance->channels, [](const HostChannel& channel) { return channel.client_gone(); });
        HostChannel channel;
        // A client whose channel dies with the process waits this long for
        // the host's word on a restart.
        channel.successor = std::make_shared<detail::LocalSuccessor>(
            instance->config.restart == RestartPolicy::OnFailure ? instance->options.handover_timeout
                                                                 : std::chrono::milliseconds{0});
        auto end = MILK_TRY(open_movable(*instance, instance->config.placement, {}, channel));
        auto client = detail::relocating(std::move(end), channel.successor, instance->type->reencode,
                                         instance->type->machine);
        instance->channels.push_back(std::move(channel));
        return client;
    }
    switch (instance->config.placement) {
    case Placement::Inproc: {
        auto pair = MILK_TRY(inproc::open_channel(inproc_options(instance->config)));
        // Counted before connect returns, so that status() shows the
        // channel open as soon as the client has it.
        std::thread(serve_inproc, instance->type, instance->config.settings,
                    detail::counted(std::move(pair.second), instance->counters, instance->type->machine),
                    instance->config.name)
            .detach();
        return std::move(pair.first);
    }
    case Placement::Process:
        return channel_from_runner(*instance, 0, {});
    case Placement::Kernel:
        return detail::open_kernel_channel(*instance->type, instance->config.name, instance->config.settings);
    }
    return Error{ErrorCode::InvalidArgument, "unknown placement", 0};
}

Result<void> Host::hand_over(std::string_view name, std::string_view contract, std::uint32_t version, int socket) {
    detail::FileDescriptor client(socket);
    Instance* instance = MILK_TRY(find(name, contract, version));
    if (instance->type->movable()) {
        std::lock_guard lock(instance->lock);
        std::erase_if(instance->channels, [](const HostChannel& channel) { return channel.client_gone(); });
        HostChannel channel;
        channel.remote = std::make_shared<detail::FileDescriptor>(std::move(client));
        MILK_TRY(open_movable(*instance, instance->config.placement, {}, channel));
        instance->channels.push_back(std::move(channel));
        return {};
    }
    switch (instance->config.placement) {
    case Placement::Inproc: {
        detail::serve_over_socket(
            std::move(client),
            [type = instance->type, settings = instance->config.settings, counters = instance->counters,
             instance_name = instance->config.name](ChannelEnd&& end) -> Result<void> {
                serve_inproc(type, settings, detail::counted(std::move(end), counters, type->machine), instance_name);
                return {};
            },
            instance->options.handover_timeout);
        return {};
    }
    case Placement::Process:
        return instance->runner->request_channel(client.get());
    case Placement::Kernel: {
        auto fd = MILK_TRY(
            detail::open_kernel_channel_fd(*instance->type, instance->config.name, instance->config.settings));
        return detail::send_record(client.get(), detail::bytes_of(kernel_channel_magic), fd.get());
    }
    }
    return Error{ErrorCode::InvalidArgument, "unknown placement", 0};
}

std::uint64_t trace_clock_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
}

namespace {

// Numbers a runner or milk.ko wrote (a tag, a protocol state), named only
// through the type's bounds-checked tables: a number out of range reads
// "tag N" or "?", and never indexes anything.
std::string message_name(const ComponentType& type, std::uint32_t tag) {
    return tag >= 1 && tag <= type.message_names.size() ? type.message_names[tag - 1] : "tag " + std::to_string(tag);
}

std::string state_name(const ComponentType& type, std::uint32_t state) {
    return type.machine.name(static_cast<session::StateMachine::State>(state > 0xffff ? 0xffff : state));
}

// A message milk.ko recorded, named as the user-space placements' are.
TraceEvent kernel_trace_event(const Host::Instance& instance, const kernel::TraceRecord& record) {
    const ComponentType& type = *instance.type;
    TraceEvent event;
    event.kind = TraceEvent::Kind::Message;
    event.time_ns = record.time_ns;
    event.instance = instance.config.name;
    event.contract = type.contract;
    event.channel = kernel_trace_channel_base + record.channel;
    event.tag = record.tag;
    event.name = message_name(type, record.tag);
    event.from_client = record.from_client;
    event.state_before = state_name(type, record.state_before);
    event.state_after = state_name(type, record.state_after);
    return event;
}

}  // namespace

void Host::start_trace() {
    for (const auto& instance : m_instances) {
        std::lock_guard lock(instance->lock);
        instance->tracing = true;
        instance->trace_events.clear();
        if (instance->counters) instance->counters->start_trace();
        // milk.ko records the instance's kernel channels: those it has now,
        // and those a move opens there during the trace.
        instance->kernel_tracing = instance->type->placements.contains(Placement::Kernel) &&
                                   detail::start_kernel_trace(*instance->type, instance->config.name);
    }
}

Trace Host::stop_trace() {
    Trace trace;
    for (const auto& instance : m_instances) {
        std::lock_guard lock(instance->lock);
        instance->tracing = false;
        for (TraceEvent& event : instance->trace_events) trace.events.push_back(std::move(event));
        instance->trace_events.clear();
        if (instance->kernel_tracing) {
            instance->kernel_tracing = false;
            if (auto recorded = detail::stop_kernel_trace(*instance->type, instance->config.name)) {
                trace.dropped += recorded->dropped;
                for (const kernel::TraceRecord& record : recorded->records)
                    trace.events.push_back(kernel_trace_event(*instance, record));
            }
        }
        if (!instance->counters) continue;
        auto recorded = instance->counters->stop_trace();
        trace.dropped += recorded.dropped;
        const ComponentType& type = *instance->type;
        for (const detail::TraceRecord& record : recorded.records) {
            TraceEvent event;
            event.kind = record.kind.load(std::memory_order_relaxed) == static_cast<std::uint8_t>(detail::TraceKind::Wait)
                             ? TraceEvent::Kind::Wait
                             : TraceEvent::Kind::Message;
            event.time_ns = record.time_ns;
            event.duration_ns = record.duration_ns;
            event.instance = instance->config.name;
            event.contract = type.contract;
            event.channel = record.channel;
            event.tag = record.tag;
            event.name = event.kind == TraceEvent::Kind::Wait ? "waiting for a message" : message_name(type, record.tag);
            event.from_client = record.direction == static_cast<std::uint8_t>(session::Direction::Send);
            event.state_before = state_name(type, record.state_before);
            event.state_after = state_name(type, record.state_after);
            trace.events.push_back(std::move(event));
        }
    }
    std::sort(trace.events.begin(), trace.events.end(),
              [](const TraceEvent& a, const TraceEvent& b) { return a.time_ns < b.time_ns; });
    return trace;
}

std::vector<InstanceStatus> Host::status() const {
    std::vector<InstanceStatus> list;
    for (const auto& instance : m_instances) {
        InstanceStatus status;
        status.name = instance->config.name;
        status.component = instance->config.component;
        status.contract = instance->type->contract;
        status.version = instance->type->version;
        // A move changes the placement, a restart the runner (under the
        // instance's lock).
        std::unique_lock lock(instance->lock);
        status.placement = instance->config.placement;
        status.movable = instance->type->movable();
        status.restarts = instance->restarts;
        status.restartable = instance->config.restart == RestartPolicy::OnFailure;
        if (instance->counters) {
            auto totals = instance->counters->totals();
            status.channels_open = totals.channels_open;
            status.channels_opened = totals.channels_opened;
            status.messages = totals.messages;
            // The page is the runner's to write (process): an index it
            // scribbled over is shown as "?", never used to index anything.
            for (const auto& channel : totals.channels)
                status.open_channels.push_back(ChannelStatus{channel.messages, state_name(*instance->type, channel.state)});
        }
        switch (status.placement) {
        case Placement::Inproc: status.pid = ::getpid(); break;
        case Placement::Process: {
            status.pid = instance->runner->pid();
            const auto fate = instance->runner->fate();
            status.state = fate.state;
            status.code = fate.code;
            // A runner that died without closing its channels closed them
            // all by dying; its page still counts them open.
            if (fate.state != InstanceState::Running) {
                status.channels_open = 0;
                status.open_channels.clear();
            }
            break;
        }
        case Placement::Kernel:
            if (auto counts = detail::kernel_counts(*instance->type, instance->config.name)) {
                status.channels_open = counts->open_channels.size();
                status.messages = counts->messages;
                for (const auto& channel : counts->open_channels)
                    status.open_channels.push_back(ChannelStatus{channel.messages, state_name(*instance->type, channel.state)});
            }
            break;
        }
        lock.unlock();
        list.push_back(std::move(status));
    }
    return list;
}

}  // namespace milk::host
