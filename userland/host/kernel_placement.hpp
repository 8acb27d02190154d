// The host's `kernel` placement: everything it asks milk.ko, in one file, so
// that following the module's ABI stays local. Not installed.
//
// Today milk::kernel::open_channel(contract, version) is what the kernel
// transport offers: a channel to the module's component for a contract, with
// no settings and no per-component count. Track K's ABI adds
// open_channel(component, contract, version, options) with
// Options::settings, component_info(name) (channels open, messages served)
// and adopt_channel(fd) (a kernel channel's fd received over SCM_RIGHTS);
// when it lands, these functions use it and nothing else changes.
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

// What milk.ko counts for the component, when it says.
[[nodiscard]] std::optional<KernelCounts> kernel_counts(const ComponentType& type);

}  // namespace milk::host::detail
