// milk's control contract (contracts/control.contract) on both sides: milkd
// serves it, milkctl and tests use it to ask for the status of a host.
#pragma once

#include <milk/channel.hpp>
#include <milk/host/host.hpp>
#include <milk/result.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace milk::host {

// The server side: answers each Status with one Instance record per entry of
// `status()`, each followed by a Channel record per entry of its
// open_channels (messages and protocol state), and a Listed terminator, until the client says Bye.
// Each Move calls `move` and answers Moved, or MoveFailed with its error.
using MoveFunction = std::function<Result<void>(std::string_view instance, Placement placement)>;
[[nodiscard]] Result<void> serve_control(ChannelEnd&& end, const std::function<std::vector<InstanceStatus>()>& status,
                                         const MoveFunction& move);

// The client side: one Status exchange, then Bye. What comes back is
// checked (the count in Listed, names that are text); `contract` and
// `version` are not part of the record and stay empty.
[[nodiscard]] Result<std::vector<InstanceStatus>> request_status(ChannelEnd&& control);

// The client side of a move: one Move exchange, then Bye. When the host
// refused: its error's code, and its text in `reason`.
[[nodiscard]] Result<void> request_move(ChannelEnd&& control, std::string_view instance, Placement placement,
                                        std::string& reason);

}  // namespace milk::host
