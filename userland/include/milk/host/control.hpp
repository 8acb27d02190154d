// milk's control contract (contracts/control.contract) on both sides: milkd
// serves it, milkctl and tests use it to ask for the status of a host.
#pragma once

#include <milk/channel.hpp>
#include <milk/host/host.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace milk::host {

// The server side: answers each Status with one Instance record per entry of
// `status()`, each followed by a Channel record per entry of its
// open_channels (messages and protocol state), and a Listed terminator, until the client says Bye.
// Each Move calls `move` and answers Moved, or MoveFailed with its error.
// Each Trace calls `trace` with how long to record, and sends the trace's
// JSON (trace_to_json) in pieces.
using MoveFunction = std::function<Result<void>(std::string_view instance, Placement placement)>;
using TraceFunction = std::function<Trace(std::chrono::milliseconds)>;
[[nodiscard]] Result<void> serve_control(ChannelEnd&& end, const std::function<std::vector<InstanceStatus>()>& status,
                                         const MoveFunction& move, const TraceFunction& trace = {});

// The client side: one Status exchange, then Bye. What comes back is
// checked (the count in Listed, names that are text); `contract` and
// `version` are not part of the record and stay empty.
[[nodiscard]] Result<std::vector<InstanceStatus>> request_status(ChannelEnd&& control);

// The client side of a move: one Move exchange, then Bye. When the host
// refused: its error's code, and its text in `reason`.
// The client side of a trace: one Trace exchange, then Bye. The JSON text
// goes to `json`; the answer is the events recorded and dropped.
struct TraceSummary {
    std::uint32_t events = 0;
    std::uint32_t dropped = 0;
};
[[nodiscard]] Result<TraceSummary> request_trace(ChannelEnd&& control, std::chrono::milliseconds duration,
                                                 std::string& json);

[[nodiscard]] Result<void> request_move(ChannelEnd&& control, std::string_view instance, Placement placement,
                                        std::string& reason);

}  // namespace milk::host
