// milkctl: asks a running milkd about its instances, over milk's control
// contract (contracts/control.contract).
//
//   milkctl [--socket PATH] status [--channels]
//   milkctl [--socket PATH] move INSTANCE PLACEMENT
//   milkctl [--socket PATH] trace --out FILE [--seconds S]
//
// prints one line per instance: its name, component, placement, the pid it
// runs in (or "kernel"), its state (running, or dead with its exit status or
// signal), its open channels and the messages its side sent and received;
// with --channels, a line per open channel under it with that channel's
// protocol state (as its contract names it) and messages. `move` moves an
// instance to another placement while it runs (docs/relocation.md) and
// prints "moved INSTANCE to PLACEMENT", or why not. `trace` records every
// instance's channel traffic for S seconds (1 by default) and writes it as
// Chrome / Perfetto trace-event JSON, which opens in ui.perfetto.dev.
// Exit status: 0 when milkd answered (and moved), 1 when it could not be
// reached, answered wrongly or refused the move, 2 on a bad command line.
#include <milk/host/client.hpp>
#include <milk/host/control.hpp>
#include <milk/host/host.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <string>

namespace {

int print_status(const std::string& socket_path, bool channels) {
    auto control = milk::host::connect_control_end(socket_path);
    auto status = control.ok() ? milk::host::request_status(std::move(control).value())
                               : milk::Result<std::vector<milk::host::InstanceStatus>>(control.error());
    if (!status.ok()) {
        const milk::Error& error = status.error();
        fmt::print(stderr, "milkctl: {}: {}{}\n", socket_path, error.what != nullptr ? error.what : milk::describe(error.code),
                   error.code == milk::ErrorCode::SystemError ? fmt::format(" ({})", std::strerror(static_cast<int>(error.detail))) : "");
        return 1;
    }
    fmt::print("{:<16} {:<12} {:<9} {:<8} {:<24} {:>8} {:>12}\n", "INSTANCE", "COMPONENT", "PLACEMENT", "PID", "STATE",
               "CHANNELS", "MESSAGES");
    for (const milk::host::InstanceStatus& instance : status.value()) {
        const std::string pid =
            instance.placement == milk::Placement::Kernel ? std::string("kernel") : std::to_string(instance.pid);
        fmt::print("{:<16} {:<12} {:<9} {:<8} {:<24} {:>8} {:>12}\n", instance.name, instance.component,
                   milk::placement_name(instance.placement), pid, milk::host::describe_state(instance),
                   instance.channels_open, instance.messages);
        if (!channels) continue;
        for (std::size_t i = 0; i < instance.open_channels.size(); ++i)
            fmt::print("  channel {:<3} state {:<16} messages {}\n", i + 1, instance.open_channels[i].state,
                       instance.open_channels[i].messages);
    }
    return 0;
}

int move_instance(const std::string& socket_path, const std::string& instance, const std::string& placement_word) {
    const auto placement = milk::parse_placement(placement_word);
    if (!placement) {
        fmt::print(stderr, "milkctl: '{}' is not a placement (inproc, process, kernel)\n", placement_word);
        return 2;
    }
    auto control = milk::host::connect_control_end(socket_path);
    std::string reason;
    auto moved = control.ok() ? milk::host::request_move(std::move(control).value(), instance, *placement, reason)
                              : milk::Result<void>(control.error());
    if (!moved.ok()) {
        const milk::Error& error = moved.error();
        fmt::print(stderr, "milkctl: moving {} to {}: {}\n", instance, placement_word,
                   !reason.empty() ? reason : (error.what != nullptr ? error.what : milk::describe(error.code)));
        return 1;
    }
    fmt::print("moved {} to {}\n", instance, placement_word);
    return 0;
}

int record_trace(const std::string& socket_path, const std::string& out, double seconds) {
    auto control = milk::host::connect_control_end(socket_path);
    std::string json;
    const auto duration = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
    auto traced = control.ok() ? milk::host::request_trace(std::move(control).value(), duration, json)
                               : milk::Result<milk::host::TraceSummary>(control.error());
    if (!traced.ok()) {
        const milk::Error& error = traced.error();
        fmt::print(stderr, "milkctl: tracing: {}\n", error.what != nullptr ? error.what : milk::describe(error.code));
        return 1;
    }
    std::FILE* file = std::fopen(out.c_str(), "w");
    if (file == nullptr || std::fwrite(json.data(), 1, json.size(), file) != json.size() || std::fclose(file) != 0) {
        fmt::print(stderr, "milkctl: cannot write {}: {}\n", out, std::strerror(errno));
        return 1;
    }
    fmt::print("wrote {} events to {}{}\n", traced.value().events, out,
               traced.value().dropped == 0 ? "" : fmt::format(" ({} did not fit and were dropped)", traced.value().dropped));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milkctl: asks milkd about its component instances"};
    std::string socket_path = milk::host::default_socket_path();
    app.add_option("--socket", socket_path, "milkd's Unix socket")->capture_default_str();
    app.require_subcommand(1);
    CLI::App* status = app.add_subcommand("status", "list the instances: placement, pid, state, channels, messages");
    bool channels = false;
    status->add_flag("--channels", channels, "a line per open channel, with its messages");
    CLI::App* move = app.add_subcommand("move", "move an instance to another placement while it runs");
    std::string instance;
    std::string placement;
    move->add_option("instance", instance, "the instance's name")->required();
    move->add_option("placement", placement, "inproc or process")->required();
    CLI::App* trace = app.add_subcommand("trace", "record the instances' channel traffic as Perfetto JSON");
    std::string out;
    double seconds = 1.0;
    trace->add_option("--out", out, "the JSON file to write")->required();
    trace->add_option("--seconds", seconds, "how long to record (at most 60)")
        ->check(CLI::Range(0.0, 60.0))
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }
    if (status->parsed()) return print_status(socket_path, channels);
    if (move->parsed()) return move_instance(socket_path, instance, placement);
    if (trace->parsed()) return record_trace(socket_path, out, seconds);
    return 2;
}
