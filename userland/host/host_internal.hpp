// What a Host keeps per instance. Not installed.
#pragma once

#include "channel_seat.hpp"
#include "instance_counters.hpp"
#include "relocating_transport.hpp"
#include "runner_process.hpp"

#include <milk/host/host.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <thread>
#include <memory>
#include <mutex>
#include <vector>

namespace milk::host {

// One channel of a movable instance: where its component is served now, and
// how its client finds the successor.
struct HostChannel {
    // A client in this process (connect): the successor is posted here.
    std::shared_ptr<detail::LocalSuccessor> successor;
    // A client in another process (hand_over): the socket it connected
    // with, on which each successor is handed over.
    std::shared_ptr<detail::FileDescriptor> remote;
    Placement placement = Placement::Inproc;
    // inproc: the seat in this process.
    std::shared_ptr<detail::ChannelSeat> seat;
    // process: the runner's name for it.
    std::uint64_t runner_channel = 0;
    // kernel: a duplicate of milk.ko's fd of the channel (the client has
    // the other), on which the host parks, resumes and retires it.
    std::shared_ptr<detail::FileDescriptor> kernel;

    // Whether its client has gone: nothing left to move.
    [[nodiscard]] bool client_gone() const;
};

struct Host::Instance {
    InstanceConfig config;
    const ComponentType* type = nullptr;
    HostOptions options;
    // Where the component's side counts (inproc, process): a memfd, so that
    // a runner can count in it too when the instance moves there.
    std::shared_ptr<const detail::CounterPage> counters;
    // The runner of a `process` instance; a movable instance keeps it once
    // started, also while it runs elsewhere, so that moving back is quick.
    std::unique_ptr<detail::RunnerProcess> runner;

    // Moves, connects, restarts and the fields below.
    mutable std::mutex lock;
    std::vector<HostChannel> channels;
    std::uint64_t next_channel = 1;
    // Restarts of its process so far, and when the recent ones were (for
    // `restart_limit`, per minute).
    std::uint32_t restarts = 0;
    std::deque<std::chrono::steady_clock::time_point> recent_restarts;
    // While a trace runs: the moves and restarts it records.
    bool tracing = false;
    std::vector<TraceEvent> trace_events;
    // While a trace runs: whether milk.ko records the instance's kernel
    // channels too (its component is in the module, which is loaded).
    bool kernel_tracing = false;
};

// CLOCK_MONOTONIC in nanoseconds: a trace's clock, the same in every process.
[[nodiscard]] std::uint64_t trace_clock_ns();

// The thread that restarts instances whose process died: a runner's watcher
// reports the death here (it must not replace its own RunnerProcess), and
// the supervisor, on a thread of its own, takes the instance's lock and
// does what its `restart` says.
struct Host::Supervisor : std::enable_shared_from_this<Host::Supervisor> {
    std::mutex lock;
    std::condition_variable wake;
    std::deque<Host::Instance*> dead;
    bool stopping = false;
    std::thread thread;

    void report(Host::Instance* instance) {
        std::lock_guard guard(lock);
        if (stopping) return;
        dead.push_back(instance);
        wake.notify_one();
    }
    void stop() {
        {
            std::lock_guard guard(lock);
            stopping = true;
            wake.notify_one();
        }
        if (thread.joinable()) thread.join();
    }
    ~Supervisor() { stop(); }
};

// The supervisor's thread.
void supervise(Host::Supervisor* supervisor);

}  // namespace milk::host
