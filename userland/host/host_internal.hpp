// What a Host keeps per instance. Not installed.
#pragma once

#include "channel_seat.hpp"
#include "instance_counters.hpp"
#include "relocating_transport.hpp"
#include "runner_process.hpp"

#include <milk/host/host.hpp>

#include <cstdint>
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

    // Moves, connects and the list of channels below (movable instances).
    mutable std::mutex lock;
    std::vector<HostChannel> channels;
    std::uint64_t next_channel = 1;
};

}  // namespace milk::host
