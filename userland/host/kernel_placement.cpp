#include "kernel_placement.hpp"

#include <milk/kernel.hpp>

#include <cerrno>

namespace milk::host::detail {
namespace {

kernel::Options options_for(std::string_view instance, const Settings& settings) {
    kernel::Options options;
    // The module lists the instance's channels by this name (status).
    options.instance = std::string(instance);
    // milk.ko builds the component for each channel with try_create from
    // these, as the host does in user space.
    options.settings = settings;
    return options;
}

}  // namespace

Result<ChannelEnd> open_kernel_channel(const ComponentType& type, std::string_view instance, const Settings& settings) {
    return kernel::open_channel(type.name, type.contract, type.version, options_for(instance, settings));
}

Result<FileDescriptor> open_kernel_channel_fd(const ComponentType& type, std::string_view instance,
                                              const Settings& settings, std::span<const std::byte> snapshot) {
    const kernel::Options options = options_for(instance, settings);
    const int fd = snapshot.empty()
                       ? MILK_TRY(kernel::open_channel_fd(type.name, type.contract, type.version, options))
                       : MILK_TRY(kernel::open_restored_channel_fd(type.name, type.contract, type.version, snapshot,
                                                                   options));
    return FileDescriptor(fd);
}

bool start_kernel_trace(const ComponentType& type, std::string_view instance) {
    auto started = kernel::start_trace(type.name, instance);
    if (!started.ok() && started.error().detail == EALREADY) {
        static_cast<void>(kernel::stop_trace(type.name, instance));
        started = kernel::start_trace(type.name, instance);
    }
    return started.ok();
}

std::optional<kernel::TraceRecords> stop_kernel_trace(const ComponentType& type, std::string_view instance) {
    auto stopped = kernel::stop_trace(type.name, instance);
    if (!stopped.ok()) return std::nullopt;
    return std::move(stopped).value();
}

Result<void> check_kernel_component(const ComponentType& type) {
    auto info = kernel::component_info(type.name);
    if (!info.ok()) {
        if (info.error().code == ErrorCode::SystemError)
            return Error{ErrorCode::InvalidArgument, "milk.ko is not loaded (no /dev/milk)", info.error().detail};
        return info.error();
    }
    if (info.value().contract != type.contract)
        return Error{ErrorCode::InvalidArgument, "milk.ko's component serves another contract", 0};
    if (info.value().version != type.version)
        return Error{ErrorCode::InvalidArgument,
                     "milk.ko's component serves another version (identity) of the contract: detail is the version "
                     "it serves; rebuild milk.ko and the host from one contract file",
                     info.value().version};
    return {};
}

Result<std::vector<std::byte>> park_kernel_channel(const FileDescriptor& fd) { return kernel::park_channel(fd.get()); }

Result<void> resume_kernel_channel(const FileDescriptor& fd) { return kernel::resume_channel(fd.get()); }

Result<void> retire_kernel_channel(const FileDescriptor& fd) { return kernel::retire_channel(fd.get()); }

Result<ChannelEnd> adopt_kernel_channel(FileDescriptor fd) { return kernel::adopt_channel(std::move(fd).take()); }

std::optional<KernelCounts> kernel_counts(const ComponentType& type, std::string_view instance) {
    auto info = kernel::component_info(type.name);
    if (!info.ok()) return std::nullopt;
    auto channels = kernel::list_channels(type.name, instance);
    if (!channels.ok()) return std::nullopt;
    KernelCounts counts;
    counts.messages = info.value().messages;
    // A channel the kernel closed (a violation, the session's end) stays
    // listed until its fd is closed; it is not open.
    for (const auto& channel : channels.value())
        if (!channel.closed) counts.open_channels.push_back({channel.received + channel.sent, channel.state});
    return counts;
}

}  // namespace milk::host::detail
