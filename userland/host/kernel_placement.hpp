// The host's `kernel` placement: everything it asks milk.ko, in one file, so
// that following the module's ABI stays local. Not installed.
//
// milk.ko (since ABI 5) opens a channel to a component by its name, with the
// instance's settings and name; hands a channel that nobody here maps to
// another process as its fd (milkd's clients adopt it); counts, per
// component, the messages it accepted from user space; and lists the open
// channels of an instance with their protocol states and message counts.
#pragma once

#include "fd_passing.hpp"

#include <milk/channel.hpp>
#include <milk/component.hpp>
#include <milk/host/component_type.hpp>
#include <milk/kernel.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace milk::host::detail {

// A channel from this process to the instance's component in milk.ko,
// opened under the instance's name.
[[nodiscard]] Result<ChannelEnd> open_kernel_channel(const ComponentType& type, std::string_view instance,
                                                     const Settings& settings);

// The same channel as milk.ko's fd, for a client in another process
// (milkd sends it with SCM_RIGHTS and the client adopts it), or for one
// that follows a moving component (then the host keeps a duplicate of the
// fd to park it). With a snapshot, the component is restored from it.
[[nodiscard]] Result<FileDescriptor> open_kernel_channel_fd(const ComponentType& type, std::string_view instance,
                                                            const Settings& settings,
                                                            std::span<const std::byte> snapshot = {});

// A trace of the instance's kernel channels (milk/kernel.hpp): started
// when the module has the component (a trace left running by a host that
// died is replaced); stopped with its records. False, or none, when there
// is nothing to trace there.
[[nodiscard]] bool start_kernel_trace(const ComponentType& type, std::string_view instance);
[[nodiscard]] std::optional<kernel::TraceRecords> stop_kernel_trace(const ComponentType& type,
                                                                  std::string_view instance);

// Whether milk.ko is loaded and has the component, serving its contract
// and version: a move to the kernel asks before it parks anything.
[[nodiscard]] Result<void> check_kernel_component(const ComponentType& type);

// A move's steps on a kernel channel (milk/kernel.hpp): park it between two
// kicks with its component's snapshot, take it back into service, or close
// it for good because the component moved on.
[[nodiscard]] Result<std::vector<std::byte>> park_kernel_channel(const FileDescriptor& fd);
[[nodiscard]] Result<void> resume_kernel_channel(const FileDescriptor& fd);
[[nodiscard]] Result<void> retire_kernel_channel(const FileDescriptor& fd);

// The client's side of that: its end of a channel whose fd came from milkd.
[[nodiscard]] Result<ChannelEnd> adopt_kernel_channel(FileDescriptor fd);

struct KernelChannelCounts {
    // Both ways, as user space counts them.
    std::uint64_t messages = 0;
    // The contract's numbering (ComponentType::machine names it).
    std::uint32_t state = 0;
};

struct KernelCounts {
    // The messages milk.ko accepted from user space on the component's
    // channels (every instance of it) since it was loaded.
    std::uint64_t messages = 0;
    // The instance's channels open now, oldest first.
    std::vector<KernelChannelCounts> open_channels;
};

// What milk.ko counts for the instance; none when it cannot say (the
// module is not loaded, or has no such component).
[[nodiscard]] std::optional<KernelCounts> kernel_counts(const ComponentType& type, std::string_view instance);

}  // namespace milk::host::detail
