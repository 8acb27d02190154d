// The inproc transport: both ends of a channel in one address space.
//
// It is the same data path the process transport uses (RegionTransport over
// a ChannelRegionLayout), over anonymous memory instead of a memfd: two rings,
// four doorbells and an exchange heap in one region, shared by reference
// count, so either end may go away first and buffers outlive both ends.
//
//   auto pair = milk::inproc::open_channel({.ring_capacity = 1024});
//   auto [a, b] = std::move(pair).value();   // two milk::ChannelEnd
#pragma once

#include "channel.hpp"
#include "doorbell.hpp"
#include "result.hpp"

#include <chrono>
#include <cstdint>

namespace milk::inproc {

using milk::WaitMode;

struct Options {
    // Slots per direction; a power of two in [2, 2^24].
    std::uint32_t ring_capacity = 256;
    // Exchange-heap bytes each side allocates from; a power of two in
    // [64, 2^30]. Only touched pages use memory.
    std::uint32_t heap_bytes_per_side = 4u << 20;
    // How long a receiver (or a sender facing a full ring) spins before it
    // sleeps; zero sleeps at once. Ignored by WaitMode::Poll.
    std::chrono::nanoseconds spin_budget = std::chrono::microseconds(10);
    WaitMode wait_mode = WaitMode::SpinThenSleep;
};

// A new channel. `first` is side First (by convention the client), `second`
// side Second. InvalidArgument for options out of range; SystemError if the
// memory cannot be mapped.
[[nodiscard]] Result<ChannelPair> open_channel(const Options& options = {});

}  // namespace milk::inproc
