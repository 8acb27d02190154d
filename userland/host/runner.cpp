// milk-runner's side of the runner protocol (runner_protocol.hpp).
#include "milk/host/runner.hpp"

#include "fd_passing.hpp"
#include "instance_counters.hpp"
#include "channel_seat.hpp"
#include "runner_protocol.hpp"

#include <milk/process.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <condition_variable>
#include <mutex>
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
               detail::FileDescriptor socket, const std::string& instance, process::Options options) {
    auto pending = process::create_channel(options);
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

// A channel the host may move: created here, handed over `socket`, and
// served by a seat (channel_seat.hpp), from `snapshot` when not empty.
Result<std::shared_ptr<detail::ChannelSeat>> seat_one(const ComponentType* type, const Settings& settings,
                                                      std::uint64_t channel,
                                                      const std::shared_ptr<const detail::CounterPage>& counters,
                                                      detail::FileDescriptor socket, std::vector<std::byte> snapshot,
                                                      const std::string& instance, const process::Options& options) {
    auto pending = MILK_TRY(process::create_channel(options));
    // A successor (one with a snapshot) waits for as long as its client
    // takes to come back to its channel; its client's leaving ends the wait.
    const Deadline deadline = snapshot.empty() ? Deadline::after(handover_timeout) : Deadline::never();
    auto end = MILK_TRY(process::send_channel(socket.get(), std::move(pending), deadline));
    return detail::ChannelSeat::start(*type, settings, std::move(snapshot),
                                      detail::counted(std::move(end), counters, type->machine, channel), instance);
}

// The channels this runner serves for the host's moves, by the host's id.
// A channel is reserved when its Serve arrives and gets its seat once the
// client has attached, so that a Park right after (a move racing with the
// hand-over) waits for it instead of finding nothing.
class Seats {
public:
    void reserve(std::uint64_t channel) {
        std::lock_guard lock(m_lock);
        std::erase_if(m_seats, [](const Entry& entry) { return !entry.pending && (!entry.seat || entry.seat->ended()); });
        m_seats.push_back(Entry{channel, true, nullptr});
    }
    // The seat, or null when the hand-over failed.
    void settle(std::uint64_t channel, std::shared_ptr<detail::ChannelSeat> seat) {
        std::lock_guard lock(m_lock);
        for (Entry& entry : m_seats) {
            if (entry.channel != channel || !entry.pending) continue;
            entry.pending = false;
            entry.seat = std::move(seat);
            break;  // the host names each channel once
        }
        m_settled.notify_all();
    }
    // Null for a channel this runner does not serve (any more); WouldBlock
    // for one still being handed over at the deadline (its client has not
    // taken it).
    [[nodiscard]] Result<std::shared_ptr<detail::ChannelSeat>> find(std::uint64_t channel, Deadline deadline) {
        std::unique_lock lock(m_lock);
        for (;;) {
            const Entry* found = nullptr;
            for (const Entry& entry : m_seats)
                if (entry.channel == channel) found = &entry;
            if (found == nullptr) return std::shared_ptr<detail::ChannelSeat>{};
            if (!found->pending) return found->seat;
            if (m_settled.wait_until(lock, deadline.at()) == std::cv_status::timeout)
                return Error{ErrorCode::WouldBlock, "the channel's client has not taken it yet", 0};
        }
    }

private:
    struct Entry {
        std::uint64_t channel;
        bool pending;
        std::shared_ptr<detail::ChannelSeat> seat;
    };
    std::mutex m_lock;
    std::condition_variable m_settled;
    std::vector<Entry> m_seats;
};

// Park: stops the seat and answers with its snapshot, or why not.
Result<void> answer_park(int control, Result<std::shared_ptr<detail::ChannelSeat>> seat,
                         const detail::RunnerRequest& request) {
    detail::RunnerReply reply;
    reply.channel = request.channel;
    std::vector<std::byte> snapshot;
    if (!seat.ok()) {
        reply.code = static_cast<std::uint32_t>(ErrorCode::WouldBlock);
    } else if (seat.value() == nullptr) {
        reply.code = static_cast<std::uint32_t>(ErrorCode::PeerClosed);
    } else {
        auto parked = seat.value()->park(Deadline::after(std::chrono::milliseconds(request.timeout_ms)));
        if (parked.ok()) snapshot = std::move(parked).value();
        else if (parked.error().code == ErrorCode::PeerClosed || parked.error().code == ErrorCode::WouldBlock)
            reply.code = static_cast<std::uint32_t>(parked.error().code);
        else reply.code = static_cast<std::uint32_t>(ErrorCode::TimedOut);
    }
    reply.snapshot_bytes = snapshot.size();
    MILK_TRY(detail::send_record(control, detail::bytes_of(reply)));
    return detail::send_chunks(control, snapshot, detail::snapshot_chunk);
}

}  // namespace

int run_runner(int argc, char** argv, std::span<const ComponentType> components) {
    CLI::App app{"milk-runner: runs one component instance for a milk host (started by the host, not by hand)"};
    std::string instance;
    std::string component;
    std::vector<std::string> settings_text;
    std::vector<std::string> text_settings;
    int control_fd = -1;
    int counters_fd = -1;
    std::int64_t spin_us = 10;
    app.add_option("--instance", instance, "the instance's name")->required();
    app.add_option("--component", component, "the component to run")->required();
    app.add_option("--setting", settings_text, "NAME=VALUE, one per integer setting");
    app.add_option("--text-setting", text_settings, "NAME=TEXT, one per text setting");
    app.add_option("--control-fd", control_fd, "the control socket")->required();
    app.add_option("--counters-fd", counters_fd, "the counters memfd")->required();
    app.add_option("--spin-us", spin_us, "how long the component's end spins for a message before it sleeps")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    }

    process::Options channel_options;
    channel_options.spin_budget = std::chrono::microseconds(spin_us);
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
    for (const std::string& text : text_settings) {
        const auto equals = text.find('=');
        if (equals == std::string::npos ||
            !settings.set_text(std::string_view(text).substr(0, equals), std::string_view(text).substr(equals + 1)).ok()) {
            std::fprintf(stderr, "milk-runner: bad --text-setting '%s' (NAME=TEXT)\n", text.c_str());
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

    Seats seats;
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
        const auto kind = static_cast<detail::RunnerRequestKind>(request.kind);
        const bool serve = kind == detail::RunnerRequestKind::Serve;
        if (received.value().bytes != sizeof request || request.magic != detail::runner_magic ||
            request.kind < 1 || request.kind > 4 || serve != received.value().fd.valid() ||
            (request.channel == 0 && !serve) || request.snapshot_bytes > max_snapshot_bytes ||
            (request.channel != 0 && !type->movable())) {
            std::fprintf(stderr, "milk-runner[%s]: a control record that is not the host's\n", instance.c_str());
            return 1;
        }
        Result<void> done;
        switch (kind) {
        case detail::RunnerRequestKind::Serve: {
            if (request.channel == 0) {
                std::thread(serve_one, type, settings, counters, std::move(received.value().fd), instance, channel_options)
                    .detach();
                break;
            }
            std::vector<std::byte> snapshot(request.snapshot_bytes);
            done = detail::receive_chunks(control.get(), snapshot, detail::snapshot_chunk);
            if (!done.ok()) break;
            // The hand-over waits for the client: a thread of its own, so
            // that this loop keeps answering the host meanwhile.
            seats.reserve(request.channel);
            std::thread([type, settings, counters, &seats, channel = request.channel, channel_options,
                         socket = std::move(received.value().fd), snapshot = std::move(snapshot), instance]() mutable {
                auto seat = seat_one(type, settings, channel, counters, std::move(socket), std::move(snapshot), instance,
                                     channel_options);
                if (!seat.ok()) report(instance, "handing a movable channel over", seat.error());
                seats.settle(channel, seat.ok() ? std::move(seat).value() : nullptr);
            }).detach();
            break;
        }
        case detail::RunnerRequestKind::Park: {
            // A hand-over that is about to finish is worth a short wait.
            done = answer_park(control.get(), seats.find(request.channel, Deadline::after(std::chrono::milliseconds(100))),
                               request);
            break;
        }
        case detail::RunnerRequestKind::Retire:
        case detail::RunnerRequestKind::Resume: {
            auto found = seats.find(request.channel, Deadline::after(handover_timeout));
            if (auto seat = found.ok() ? found.value() : nullptr) {
                if (kind == detail::RunnerRequestKind::Retire) seat->retire();
                else seat->resume();
            }
            break;
        }
        }
        if (!done.ok()) {
            report(instance, "answering the host", done.error());
            return 1;
        }
    }
}

}  // namespace milk::host
