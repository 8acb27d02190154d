#include "kernel_placement.hpp"

#include <milk/kernel.hpp>

namespace milk::host::detail {
namespace {

kernel::Options options_for(const Settings& settings) {
    kernel::Options options;
    // milk.ko builds the component for each channel with try_create from
    // these, as the host does in user space.
    options.settings = settings;
    return options;
}

}  // namespace

Result<ChannelEnd> open_kernel_channel(const ComponentType& type, const Settings& settings) {
    return kernel::open_channel(type.name, type.contract, type.version, options_for(settings));
}

Result<FileDescriptor> open_kernel_channel_fd(const ComponentType& type, const Settings& settings) {
    const int fd = MILK_TRY(kernel::open_channel_fd(type.name, type.contract, type.version, options_for(settings)));
    return FileDescriptor(fd);
}

Result<ChannelEnd> adopt_kernel_channel(FileDescriptor fd) { return kernel::adopt_channel(std::move(fd).take()); }

std::optional<KernelCounts> kernel_counts(const ComponentType& type) {
    auto info = kernel::component_info(type.name);
    if (!info.ok()) return std::nullopt;
    return KernelCounts{info.value().channels, info.value().messages};
}

}  // namespace milk::host::detail
