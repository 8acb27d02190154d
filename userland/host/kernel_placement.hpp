// The host's `kernel` placement: everything it asks milk.ko, in one file, so
// that following the module's ABI stays local. Not installed.
//
// milk.ko (ABI 4) opens a channel to a component by its name, with the
// instance's settings; hands a channel that nobody here maps to another
// process as its fd (milkd's clients adopt it); and counts, per component,
// its open channels and the messages it accepted from user space.
#pragma once

#include "fd_passing.hpp"

#include <milk/channel.hpp>
#include <milk/component.hpp>
#include <milk/host/component_type.hpp>

#include <cstdint>
#include <optional>

namespace milk::host::detail {

// A channel from this process to the instance's component in milk.ko.
[[nodiscard]] Result<ChannelEnd> open_kernel_channel(const ComponentType& type, const Settings& settings);

// The same channel as milk.ko's fd, for a client in another process
// (milkd sends it with SCM_RIGHTS and the client adopts it).
[[nodiscard]] Result<FileDescriptor> open_kernel_channel_fd(const ComponentType& type, const Settings& settings);

// The client's side of that: its end of a channel whose fd came from milkd.
[[nodiscard]] Result<ChannelEnd> adopt_kernel_channel(FileDescriptor fd);

struct KernelCounts {
    std::uint64_t channels_open = 0;
    std::uint64_t messages = 0;
};

// What milk.ko counts for the component; none when it cannot say (the
// module is not loaded, or has no such component).
[[nodiscard]] std::optional<KernelCounts> kernel_counts(const ComponentType& type);

}  // namespace milk::host::detail
