// The one client program of the host tests: the same binary talks to echo,
// files and tally at every placement, and only the config file, --place or
// --socket changes where they run.
//
//   milk-host-client --config FILE [--place INSTANCE=PLACEMENT]...
//       runs a milk::Host of its own with the config and connects to every
//       instance through it (Host::connect);
//   milk-host-client --socket PATH --config FILE
//       connects to the same instances through a running milkd instead
//       (milk::host::connect), and reads their status over the control
//       contract. The config tells it which instances to expect.
//   milk-host-client ... --hold INSTANCE
//       connects to the echo instance INSTANCE, prints "holding" after a
//       first round trip and goes on pinging until the channel fails: exit
//       0 when it fails with PeerClosed (its server was killed), 1 on any
//       other error or when the connection is refused. With --pings N it
//       stops after N round trips instead (with --stop-file F, once F
//       exists), each answer checked, and exits 0 when all were right (the
//       instance may move meanwhile).
//
// For each instance it runs the examples' own client for the component
// (pingpong_client.hpp, file_client.hpp, tally_client.hpp), checks every
// reply, and checks where the component ran: in this process (inproc) or
// in a milk-runner child of the host (process), and that the host counted
// on the component's side exactly the messages the client exchanged (so
// the counts come from where the component ran: a runner writes its own).
// Prints a line per instance and exits 0 only when everything holds.
#include "file-server/file_client.hpp"
#include "pingpong/pingpong_client.hpp"
#include "tally/tally_client.hpp"

#include <milk/host/client.hpp>
#include <milk/host/component_type.hpp>
#include <milk/host/config.hpp>
#include <milk/host/control.hpp>
#include <milk/host/host.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using milk::host::InstanceStatus;

// The messages of one client's run, each way.
struct Exchanged {
    std::uint64_t sent = 0;      // by the client: what the component receives
    std::uint64_t received = 0;  // by the client: what the component sends
};

struct Connector {
    milk::host::Host* host = nullptr;
    std::string socket;

    template <typename Contract>
    milk::Result<typename Contract::ClientEndpoint> connect(const std::string& instance) {
        if (host != nullptr) return host->connect<Contract>(instance);
        return milk::host::connect<Contract>(socket, instance);
    }
    std::vector<InstanceStatus> status() {
        if (host != nullptr) return host->status();
        auto control = milk::host::connect_control_end(socket);
        if (!control.ok()) return {};
        auto listed = milk::host::request_status(std::move(control).value());
        return listed.ok() ? std::move(listed).value() : std::vector<InstanceStatus>{};
    }
};

std::optional<InstanceStatus> find(const std::vector<InstanceStatus>& list, const std::string& name) {
    for (const InstanceStatus& status : list)
        if (status.name == name) return status;
    return std::nullopt;
}

// The parent of `pid`, from /proc (the runner is the host's child).
pid_t parent_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return -1;
    char state = 0;
    int parent = -1;
    if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &parent) != 2) return -1;
    return parent;
}

std::string executable_of(pid_t pid) {
    char path[4096];
    const ssize_t length = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), path, sizeof path - 1);
    if (length <= 0) return {};
    path[length] = '\0';
    return path;
}

// Runs the component's client; the messages it exchanged.
milk::Result<Exchanged> run_client(Connector& connector, const milk::host::InstanceConfig& instance) {
    if (instance.component == "echo") {
        auto client = MILK_TRY(connector.connect<examples::pingpong::PingPong::Contract>(instance.name));
        auto report = MILK_TRY(examples::pingpong::run_client(std::move(client)));
        if (report.mismatches != 0) return milk::Error{milk::ErrorCode::ProtocolViolation, "a Pong did not match its Ping", report.mismatches};
        return Exchanged{examples::pingpong::round_trips + 1ull, examples::pingpong::round_trips};  // Pings, Bye; Pongs
    }
    if (instance.component == "files") {
        auto client = MILK_TRY(connector.connect<examples::files::FileService::Contract>(instance.name));
        if (!examples::files::run_session(std::move(client)))
            return milk::Error{milk::ErrorCode::ProtocolViolation, "a file service reply was wrong", 0};
        return Exchanged{12, 11};  // 11 requests and Bye; 11 replies
    }
    if (instance.component == "tally") {
        auto client = MILK_TRY(connector.connect<examples::tally::Tally::Contract>(instance.name));
        auto report = MILK_TRY(examples::tally::run_tally_client(std::move(client)));
        if (report.wrong != 0) return milk::Error{milk::ErrorCode::ProtocolViolation, "a Sum was wrong", report.wrong};
        // Every Add, a Total per tally, Bye; Ready, a Sum per tally.
        return Exchanged{report.values + report.tallies + 1, 1ull + report.tallies};
    }
    return milk::Error{milk::ErrorCode::InvalidArgument, "no client for this component", 0};
}

// Waits until the component's side counted `expected` messages: its
// thread counts the last message (Bye) just after the client sent it.
std::optional<InstanceStatus> settled(Connector& connector, const std::string& name, std::uint64_t expected) {
    std::optional<InstanceStatus> status;
    for (int attempt = 0; attempt < 200; ++attempt) {
        status = find(connector.status(), name);
        if (status && status->messages >= expected && status->channels_open == 0) return status;
        ::usleep(10'000);
    }
    return status;
}

bool check_instance(Connector& connector, const milk::host::InstanceConfig& instance, pid_t host_pid) {
    const auto before = find(connector.status(), instance.name);
    if (!before) {
        std::printf("%s: FAILED: not in the host's status\n", instance.name.c_str());
        return false;
    }
    auto exchanged = run_client(connector, instance);
    if (!exchanged.ok()) {
        const milk::Error& error = exchanged.error();
        std::printf("%s: FAILED: %s%s%s\n", instance.name.c_str(), milk::describe(error.code),
                    error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
        return false;
    }
    // The host counts both ways on the component's side in user space;
    // milk.ko counts the messages it accepted from user space.
    const std::uint64_t expected = instance.placement == milk::Placement::Kernel
                                       ? exchanged.value().sent
                                       : exchanged.value().sent + exchanged.value().received;
    const auto after = settled(connector, instance.name, before->messages + expected);
    const std::string placement(milk::placement_name(instance.placement));
    if (!after || after->placement != instance.placement) {
        std::printf("%s: FAILED: the host says it is not at %s\n", instance.name.c_str(), placement.c_str());
        return false;
    }
    const std::uint64_t counted = after->messages - before->messages;
    std::string where;
    bool right_place = false;
    if (instance.placement == milk::Placement::Inproc) {
        right_place = after->pid == host_pid;
        where = "in the host's process " + std::to_string(after->pid);
    } else if (instance.placement == milk::Placement::Process) {
        const std::string exe = executable_of(after->pid);
        right_place = after->pid != host_pid && after->pid != ::getpid() && parent_of(after->pid) == host_pid &&
                      exe.ends_with("/milk-runner");
        where = "in process " + std::to_string(after->pid) + " (" + exe + ", child of " +
                std::to_string(parent_of(after->pid)) + ")";
    } else {
        // milk.ko's own count of the messages its component accepted is
        // the proof (checked below); there is no process to look at.
        right_place = after->pid == 0;
        where = "in milk.ko";
    }
    std::printf("%s: component %s at %s: every reply right; ran %s; its side counted %llu messages (expected %llu)\n",
                instance.name.c_str(), instance.component.c_str(), placement.c_str(), where.c_str(),
                static_cast<unsigned long long>(counted), static_cast<unsigned long long>(expected));
    if (!right_place) std::printf("%s: FAILED: the component did not run where it is placed\n", instance.name.c_str());
    if (counted != expected) std::printf("%s: FAILED: wrong message count\n", instance.name.c_str());
    return right_place && counted == expected;
}

void print_error(const char* context, const milk::Error& error) {
    std::printf("%s: %s%s%s\n", context, milk::describe(error.code), error.what != nullptr ? ": " : "",
                error.what != nullptr ? error.what : "");
}

int hold(Connector& connector, const std::string& instance, std::uint32_t pings, const std::string& stop_file) {
    namespace PingPong = examples::pingpong::PingPong;
    auto connected = connector.connect<PingPong::Contract>(instance);
    if (!connected.ok()) {
        print_error("connect", connected.error());
        return 1;
    }
    std::optional<PingPong::Contract::ClientEndpoint> client{std::move(connected).value()};
    for (std::uint32_t seq = 0;; ++seq) {
        auto payload = client->allocate(examples::pingpong::payload_size(seq));
        if (!payload.ok()) {
            print_error("allocate", payload.error());
            return 1;
        }
        std::span<std::byte> bytes = payload.value().bytes();
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = examples::pingpong::pattern(seq, i);
        auto waiting = std::move(*client).send(PingPong::Ping{seq, std::move(payload).value()});
        client.reset();
        bool right = false;
        milk::Result<PingPong::Contract::ClientEndpoint> idle =
            waiting.ok() ? std::move(waiting).value().receive(
                               [&](PingPong::Pong&& pong, PingPong::Contract::ClientEndpoint&& next) {
                                   // The number, and the payload reversed (echo's
                                   // answer), wherever echo ran meanwhile.
                                   right = pong.seq == seq &&
                                           examples::pingpong::holds_reversed_pattern(pong.payload.bytes(), seq);
                                   return std::move(next);
                               })
                         : milk::Result<PingPong::Contract::ClientEndpoint>(waiting.error());
        if (!idle.ok()) {
            print_error("the held channel", idle.error());
            return idle.error().code == milk::ErrorCode::PeerClosed && pings == 0 ? 0 : 1;
        }
        if (!right) {
            std::printf("FAILED: the answer to ping %u has another number or other bytes\n", seq);
            return 1;
        }
        client.emplace(std::move(idle).value());
        if (seq == 0) {
            std::printf("holding a channel to %s\n", instance.c_str());
            std::fflush(stdout);
        }
        const bool stop = (pings != 0 && seq + 1 == pings) || (!stop_file.empty() && ::access(stop_file.c_str(), F_OK) == 0);
        if (stop) {
            if (auto bye = std::move(*client).send(PingPong::Bye{}); !bye.ok()) {
                print_error("bye", bye.error());
                return 1;
            }
            std::printf("held %u round trips, every answer right\n", seq + 1);
            return 0;
        }
        ::usleep(5'000);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milk-host-client: the host tests' client, the same for every placement"};
    std::string config_path;
    std::vector<std::string> places;
    std::string socket;
    int milkd_pid = 0;
    std::string held;
    app.add_option("--config", config_path, "the config")->required();
    app.add_option("--place", places, "INSTANCE=PLACEMENT")->take_all();
    app.add_option("--socket", socket, "connect through this milkd instead of a host of our own");
    app.add_option("--milkd-pid", milkd_pid, "with --socket: milkd's pid, where inproc instances run");
    app.add_option("--hold", held, "hold a channel to this echo instance until it fails");
    std::uint32_t pings = 0;
    app.add_option("--pings", pings, "with --hold: stop after this many round trips (exit 0 when all were right)");
    std::string stop_file;
    app.add_option("--stop-file", stop_file, "with --hold: stop once this file exists (exit 0 when all were right)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }
    auto loaded = milk::host::load_config(config_path, milk::host::compiled_components(),
                                          milk::host::overrides_from_environment(places),
                                          milk::host::device_kernel_probe());
    if (!loaded.config) {
        for (const auto& diagnostic : loaded.diagnostics) std::fputs(milk::host::format(diagnostic).c_str(), stderr);
        return 1;
    }
    Connector connector;
    std::optional<milk::host::Host> host;
    pid_t host_pid = ::getpid();
    if (socket.empty()) {
        auto created = milk::host::Host::try_create(*loaded.config, milk::host::compiled_components());
        if (!created.ok()) {
            std::printf("FAILED: the host did not start: %s\n", milk::describe(created.error().code));
            return 1;
        }
        host.emplace(std::move(created).value());
        connector.host = &*host;
    } else {
        connector.socket = socket;
        host_pid = milkd_pid;
    }
    if (!held.empty()) return hold(connector, held, pings, stop_file);
    bool ok = true;
    for (const milk::host::InstanceConfig& instance : loaded.config->instances) ok = check_instance(connector, instance, host_pid) && ok;
    std::printf("%s\n", ok ? "all instances: ok" : "FAILED");
    return ok ? 0 : 1;
}
