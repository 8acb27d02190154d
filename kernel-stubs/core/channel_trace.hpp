// Tracing a kernel instance's channels (MILK_IOC_TRACE): what `milkctl
// trace` shows of a component that runs in milk.ko, as the user-space
// placements record theirs in their counters page (docs/relocation.md,
// "Tracing").
//
// A trace session belongs to an instance name; it records the messages of
// every channel opened with that name (ChannelOrigin::instance), into a
// buffer of MILK_TRACE_RECORDS records taken at START and handed out, and
// freed, at STOP. The sessions are one table under the shim's trace mutex.
// While no trace runs, a message costs one relaxed load of a counter.
#pragma once

#include "milk_uapi.h"

#include <cstdint>

namespace milk::kernel {

// One message of a channel, for the trace of its instance (if one runs).
// `channel` is the channel's directory id; the states are the contract's.
struct TracedMessage {
    const char* instance;
    std::uint64_t channel;
    std::uint16_t tag;
    bool from_client;
    std::uint32_t state_before;
    std::uint32_t state_after;
};

void trace_message(const TracedMessage& message);

// MILK_IOC_TRACE on any fd of /dev/milk.
[[nodiscard]] long ioctl_trace(unsigned long argument);

// At unload: frees the buffers of traces nobody stopped.
void drop_traces();

}  // namespace milk::kernel
