// milk-runner's side of the runner protocol (runner_protocol.hpp).
#include "milk/host/runner.hpp"

#include "fd_passing.hpp"
#include "instance_counters.hpp"
#include "runner_protocol.hpp"

#include <milk/process.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sys/mman.h>
#include <cstdlib>
#include <unistd.h>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace milk::host {
namespace {

// How long a client has to attach the channel the runner offers it.
constexpr auto handover_timeout = std::chrono::seconds(5);

void report(const std::string& instance, const char* what, const Error& error) {
    std::fprintf(stderr, "milk-runner[%s]: %s: %s%s%s\n", instance.c_str(), what, describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
}

// One channel: created here, handed over `socket`, served to its end.
void serve_one(const ComponentType* type, Settings settings, std::shared_ptr<const detail::CounterPage> counters,
               detail::FileDescriptor socket, const std::string& instance) {
    auto pending = process::create_channel();
    if (!pending.ok()) return report(instance, "creating a channel", pending.error());
    auto end = process::send_channel(socket.get(), std::move(pending).value(),
                                     Deadline::after(handover_timeout));
    socket.reset();
    if (!end.ok()) return report(instance, "handing a channel over", end.error());
    auto served = type->serve(settings, detail::counted(std::move(end).value(), std::move(counters), type->machine));
    // A client that goes away mid-session is its own business; anything
    // else is worth a line on stderr, which the host's stderr is.
    if (!served.ok() && served.error().code != ErrorCode::PeerClosed) report(instance, "serving", served.error());
}

}  // namespace

int run_runner(int argc, char** argv, std::span<const ComponentType> components) {
    CLI::App app{"milk-runner: runs one component instance for a milk host (started by the host, not by hand)"};
    std::string instance;
    std::string component;
    std::vector<std::string> settings_text;
    int control_fd = -1;
    int counters_fd = -1;
    app.add_option("--instance", instance, "the instance's name")->required();
    app.add_option("--component", component, "the component to run")->required();
    app.add_option("--setting", settings_text, "NAME=VALUE, one per setting");
    app.add_option("--control-fd", control_fd, "the control socket")->required();
    app.add_option("--counters-fd", counters_fd, "the counters memfd")->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    }

    const ComponentType* type = find_component(components, component);
    if (type == nullptr) {
        std::fprintf(stderr, "milk-runner: no component '%s' in this runner\n", component.c_str());
        return 2;
    }
    Settings settings;
    for (const std::string& text : settings_text) {
        const auto equals = text.find('=');
        std::int64_t value = 0;
        const char* first = equals == std::string::npos ? nullptr : text.data() + equals + 1;
        const char* last = text.data() + text.size();
        if (first == nullptr || std::from_chars(first, last, value).ptr != last ||
            !settings.set(std::string_view(text).substr(0, equals), value).ok()) {
            std::fprintf(stderr, "milk-runner: bad --setting '%s' (NAME=INTEGER)\n", text.c_str());
            return 2;
        }
    }
    // A component whose page faults would stall others (a scheduler) keeps
    // all of this process resident, now and as it grows. Without the
    // privilege (RLIMIT_MEMLOCK, CAP_IPC_LOCK) it says so and runs anyway:
    // a policy that may fault is still better than none.
    if (type->residence == MemoryResidence::Pinned && ::mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        report(instance, "locking its memory (mlockall)", Error{ErrorCode::SystemError, std::strerror(errno), errno});
    detail::FileDescriptor control(control_fd);
    auto page = detail::CounterPage::try_map(counters_fd);
    ::close(counters_fd);  // the mapping does not need it
    if (!page.ok()) {
        report(instance, "mapping the counters", page.error());
        return 1;
    }
    auto counters = std::make_shared<const detail::CounterPage>(std::move(page).value());

    for (;;) {
        detail::RunnerRequest request;
        auto received = detail::receive_record(control.get(), detail::writable_bytes_of(request));
        if (!received.ok()) {
            report(instance, "reading the control socket", received.error());
            return 1;
        }
        // The host closed its end: it stops (or died). Channels still being
        // served end with the process; their clients see PeerClosed.
        if (received.value().bytes == 0) std::_Exit(0);
        if (received.value().bytes != sizeof request || request.magic != detail::runner_magic ||
            request.kind != static_cast<std::uint32_t>(detail::RunnerRequestKind::Serve) ||
            !received.value().fd.valid()) {
            std::fprintf(stderr, "milk-runner[%s]: a control record that is not the host's\n", instance.c_str());
            return 1;
        }
        std::thread(serve_one, type, settings, counters, std::move(received.value().fd), instance).detach();
    }
}

}  // namespace milk::host
