#include "kernel_placement.hpp"

#include <milk/kernel.hpp>

namespace milk::host::detail {

Result<ChannelEnd> open_kernel_channel(const ComponentType& type, const Settings& settings) {
    // The module of today takes no settings: an instance with settings
    // would silently run without them, which the host never does.
    if (settings.size() != 0)
        return Error{ErrorCode::InvalidArgument, "this milk.ko takes no settings for a kernel instance", 0};
    return kernel::open_channel(type.contract, type.version);
}

Result<FileDescriptor> open_kernel_channel_fd(const ComponentType&, const Settings&) {
    return Error{ErrorCode::InvalidArgument,
                 "handing a kernel channel to another process needs milk::kernel::adopt_channel (milk.ko ABI 4)", 0};
}

Result<ChannelEnd> adopt_kernel_channel(FileDescriptor) {
    return Error{ErrorCode::InvalidArgument,
                 "adopting a kernel channel needs milk::kernel::adopt_channel (milk.ko ABI 4)", 0};
}

std::optional<KernelCounts> kernel_counts(const ComponentType&) { return std::nullopt; }

}  // namespace milk::host::detail
