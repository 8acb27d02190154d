// milk::Host: runs the component instances of a config, each where the
// config places it, and connects clients to them by instance name.
//
//   auto host = milk::host::Host::try_create(config, milk::host::compiled_components()).value();
//   auto client = host.connect<examples::pingpong::PingPong::Contract>("echo").value();
//
// The same client code runs whatever the placement:
//   inproc   each channel is served by a thread of this process, over the
//            inproc transport;
//   process  the instance is a child process (milk-runner) that the host
//            spawns, watches through a pidfd and reaps; the runner creates
//            each channel and hands it over a Unix socket (the process
//            transport's send_channel/receive_channel), and serves it in a
//            thread of its own;
//   kernel   each channel goes to the component inside milk.ko.
// A component object is built per channel, from the instance's settings
// (ComponentType::serve), in every placement.
//
// milkd (daemon.hpp) is this host serving clients of other processes: for
// them the host hands a channel over a socket instead (hand_over).
#pragma once

#include <milk/channel.hpp>
#include <milk/component.hpp>
#include <milk/host/component_type.hpp>
#include <milk/host/config.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <optional>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace milk::host {

struct HostOptions {
    // The runner binary that `process` instances run. Empty: `milk-runner`
    // in the directory of this program's executable.
    std::string runner_path;
    // How long a `process` instance's runner has to hand a channel over
    // before connect gives up (TimedOut).
    std::chrono::milliseconds handover_timeout{5000};
    // How long the host's destructor waits for a runner to exit after its
    // control socket closed, before SIGKILL.
    std::chrono::milliseconds stop_timeout{2000};
};

// What became of an instance.
enum class InstanceState : std::uint8_t {
    Running,
    // Its process exited by itself; `code` is the exit status.
    Exited,
    // Its process was killed by a signal; `code` is the signal's number.
    Killed,
};

[[nodiscard]] std::string_view instance_state_name(InstanceState state);

// One open channel of an instance.
struct ChannelStatus {
    // Messages the component's side sent and received on it.
    std::uint64_t messages = 0;
    // Its protocol state, as the contract names it ("Idle", "end"; "?" when
    // the last message fit no transition).
    std::string state;

    friend bool operator==(const ChannelStatus&, const ChannelStatus&) = default;
};

struct InstanceStatus {
    std::string name;
    std::string component;
    // What its component serves.
    std::string contract;
    std::uint32_t version = 0;
    Placement placement = Placement::Inproc;
    // The process the component runs in: the runner's pid for `process`,
    // this process's for `inproc`, 0 for `kernel`.
    pid_t pid = 0;
    InstanceState state = InstanceState::Running;
    int code = 0;
    // Channels open now, and opened since the instance started.
    std::uint64_t channels_open = 0;
    std::uint64_t channels_opened = 0;
    // Messages the component's side sent and received, on every channel.
    // Counted where the component's end is (the serving thread, the
    // runner); for `kernel`, what milk.ko counts once it says (until then
    // 0: docs/components.md).
    std::uint64_t messages = 0;
    // Whether it can be moved (Host::move): a step component, at a
    // user-space placement.
    bool movable = false;
    // How often its process was restarted after it died, and whether it
    // will be the next time (`restart = "on-failure"`).
    std::uint32_t restarts = 0;
    bool restartable = false;
    // Each open channel (user-space placements; empty for `kernel`, whose
    // module counts per component).
    std::vector<ChannelStatus> open_channels;
};

// One event of a trace (Host::start_trace / stop_trace; milkctl trace).
// The tracks of kernel channels in a trace: this plus milk.ko's id of the
// channel (the user-space placements' tracks are below it).
inline constexpr std::uint64_t kernel_trace_channel_base = 1'000'000'000;

struct TraceEvent {
    enum class Kind : std::uint8_t {
        // A message on a channel, as the component's side saw it.
        Message,
        // The component's side waited for a message (it slept until the
        // channel's doorbell woke it) for `duration_ns`, ending at `time_ns`.
        Wait,
        // The instance moved (`duration_ns`: the move, from its start).
        Move,
        // The instance's process died and was restarted.
        Restart,
    };
    Kind kind = Kind::Message;
    std::uint64_t time_ns = 0;  // CLOCK_MONOTONIC
    std::uint64_t duration_ns = 0;
    std::string instance;
    std::string contract;
    // The channel's track (0 for the instance's own events).
    std::uint64_t channel = 0;
    // The message's name; for a move "inproc -> process"; for a restart
    // how the process died.
    std::string name;
    std::uint16_t tag = 0;
    // Message: whether the client spoke (the contract's `send`).
    bool from_client = false;
    std::string state_before;
    std::string state_after;
};

struct Trace {
    // In time order.
    std::vector<TraceEvent> events;
    // Events that did not fit an instance's trace ring.
    std::uint64_t dropped = 0;
};

// The trace as Chrome / Perfetto trace-event JSON (opens in ui.perfetto.dev):
// a process per instance, a thread per channel (docs/relocation.md,
// "Tracing").
[[nodiscard]] std::string trace_to_json(const Trace& trace);

// "running", "exited 3", "killed by signal 9": how milkctl prints a state.
[[nodiscard]] std::string describe_state(const InstanceStatus& status);

class Host {
public:
    // Starts every instance of `config` (the runners of `process`
    // instances; inproc and kernel instances start serving when a client
    // connects). An error stops what was started and names the instance.
    [[nodiscard]] static Result<Host> try_create(const Config& config, std::span<const ComponentType> components,
                                                 const HostOptions& options = {});

    Host(Host&&) noexcept;
    Host& operator=(Host&&) noexcept;
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;
    // Stops the runners (their control sockets close, then SIGKILL after
    // stop_timeout) and reaps them. Inproc channels still open keep their
    // serving threads until their clients close them.
    ~Host();

    // A client endpoint of a new channel to `instance`. InvalidArgument when
    // there is no such instance or its component serves another contract or
    // version; PeerClosed when its process is dead.
    template <typename Contract>
    [[nodiscard]] Result<typename Contract::ClientEndpoint> connect(std::string_view instance) {
        auto end = connect_end(instance, Contract::name, Contract::version);
        if (!end.ok()) return end.error();
        return Contract::client(std::move(end).value());
    }

    // The untyped form of connect: a channel end for the client of
    // `contract` at `version`.
    [[nodiscard]] Result<ChannelEnd> connect_end(std::string_view instance, std::string_view contract,
                                                 std::uint32_t version);

    // For a client in another process, connected to us over the Unix
    // socket `socket` (which this call takes): the channel is handed over
    // that socket with the process transport's handshake (the client calls
    // milk::process::receive_channel), or, for `kernel`, as milk.ko's fd.
    // Returns once the hand-over is under way; errors before that (no such
    // instance, another contract, a dead process) are returned and the
    // socket is closed.
    [[nodiscard]] Result<void> hand_over(std::string_view instance, std::string_view contract, std::uint32_t version,
                                         int socket);

    // Records the messages of every channel of every user-space instance,
    // with their protocol states, the waits for a message, moves and
    // restarts, until stop_trace(). Off, recording costs the message path
    // one relaxed load. Kernel instances are not traced.
    void start_trace();
    [[nodiscard]] Trace stop_trace();

    // Moves `instance` to `placement` while it runs (docs/relocation.md):
    // each channel's component stops at a cut point, its snapshot starts a
    // new one at the target, and the client, whose endpoint stays the same,
    // goes on there with every unconsumed message. Channels of this
    // process's clients (connect) move; those handed to other processes
    // (hand_over) stay where they were opened until they close. Errors
    // (another placement than inproc or process, a component that serves
    // whole sessions, a channel that reaches no cut point within `timeout`,
    // a snapshot the target cannot restore) leave every channel where it
    // was, serving.
    [[nodiscard]] Result<void> move(std::string_view instance, Placement placement,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(2));

    // The placement of `instance`, if there is one.
    [[nodiscard]] std::optional<Placement> placement_of(std::string_view instance) const;
    // Its config (component, placement after the overrides, settings), or
    // null: what a mechanism needs to build a kernel-placed policy where it
    // calls it directly (milk::sched::KernelEnclave).
    [[nodiscard]] const InstanceConfig* instance_config(std::string_view instance) const;
    // The component type of `instance`, or null: what a mechanism needs to
    // call an inproc-placed policy directly (milk::mem::ManagedPool).
    [[nodiscard]] const ComponentType* component_type(std::string_view instance) const;

    // Every instance, in the config's order.
    [[nodiscard]] std::vector<InstanceStatus> status() const;

    // Implementation details (host_internal.hpp).
    struct Instance;
    struct Supervisor;

private:
    Host() = default;
    [[nodiscard]] Result<Instance*> find(std::string_view instance, std::string_view contract,
                                         std::uint32_t version) const;

    std::vector<std::unique_ptr<Instance>> m_instances;
    // Restarts instances whose process died (`restart = "on-failure"`).
    // Declared last, so destroyed first: it stops before the instances go.
    std::shared_ptr<Supervisor> m_supervisor;
};

}  // namespace milk::host
