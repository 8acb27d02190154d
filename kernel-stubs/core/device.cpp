// The core's side of /dev/milk: per-file state and ioctl dispatch. The shim
// calls these (include/milk_core.h) with the file's mutex held.
#include "blk_mechanism.hpp"
#include "channel_directory.hpp"
#include "channel_trace.hpp"
#include "component_channel.hpp"
#include "kernel_log.hpp"
#include "mem_mechanism.hpp"
#include "owned.hpp"
#include "sched_mechanism.hpp"
#include "settings_table.hpp"
#include "self_test.hpp"

#include "milk_core.h"
#include "milk_uapi.h"

#include <milk/component.hpp>
#include <milk/fixed_array.hpp>
#include <milk/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace milk::kernel {
namespace {

// What one open /dev/milk holds: at most one channel to a component (the
// `kernel` transport). One channel
// per file keeps the lifetime rule simple: the channel lives exactly as long
// as the file, and every mapping of its region holds the file.
struct FileState {
    Owned<ComponentChannel> channel;
    // Or a memory region (MILK_IOC_MEM_CREATE), which the file maps. Set
    // once under the file's mutex; `region_view` lets the memory ioctls,
    // which run without it, see it.
    Owned<mem::Region> region;
    std::atomic<mem::Region*> region_view{nullptr};
    // Or a block device (MILK_IOC_BLK_CREATE), which lives as long as the
    // file; `disk_view` for the agent's ioctls, which run without the
    // file's mutex.
    Owned<blk::Device> disk;
    std::atomic<blk::Device*> disk_view{nullptr};
    void* waker = nullptr;
    void* serve_waker = nullptr;

    // The channel is served by a kernel thread: a kick only wakes it.
    [[nodiscard]] bool threaded() const { return channel && channel->serving() != ChannelServing::InKick; }

    // A file is a channel, a region or a block device, never two of them.
    [[nodiscard]] bool has_channel() const {
        return static_cast<bool>(channel) || static_cast<bool>(region) || static_cast<bool>(disk);
    }
};

// The errno user space sees for a core error.
long to_errno(const Error& error) {
    switch (error.code) {
    case ErrorCode::InvalidArgument: return -MILK_EINVAL;
    case ErrorCode::OutOfMemory: return -MILK_ENOMEM;
    case ErrorCode::PeerClosed: return -MILK_EPIPE;
    case ErrorCode::WouldBlock: return -MILK_EBUSY;
    case ErrorCode::CorruptRing:
    case ErrorCode::ProtocolViolation:
    case ErrorCode::BadBuffer: return -MILK_EPROTO;
    default: return -MILK_EINVAL;
    }
}

std::uint32_t serving_flags(ChannelServing serving) {
    switch (serving) {
    case ChannelServing::InKick: return 0;
    case ChannelServing::Thread: return MILK_CHANNEL_THREAD;
    case ChannelServing::PollingThread: return MILK_CHANNEL_POLLING_THREAD;
    }
    return 0;
}

long ioctl_version(unsigned long argument) {
    const milk_version version{MILK_ABI_VERSION, 0};
    return milk_shim_copy_to_user(argument, &version, sizeof(version));
}

template <std::size_t N>
void copy_name(char (&to)[N], const char* from) {
    std::size_t i = 0;
    for (; i + 1 < N && from[i] != '\0'; ++i) to[i] = from[i];
    for (; i < N; ++i) to[i] = '\0';
}

// An instance name as the host's config allows it ([a-z0-9_-]), or empty;
// the field is terminated already.
bool valid_instance(const char* name) {
    for (; *name != '\0'; ++name) {
        const char c = *name;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    }
    return true;
}

// Opens the file's channel as `request` asks, the component new or, with a
// snapshot, restored from it; fills in what user space learns. 0 or an
// errno; the channel in `opened`.
long open_channel(FileState& state, milk_channel_open& request, std::span<const std::byte> snapshot,
                  Owned<ComponentChannel>& opened) {
    ChannelServing serving = ChannelServing::InKick;
    switch (request.flags) {
    case 0: break;
    case MILK_CHANNEL_THREAD: serving = ChannelServing::Thread; break;
    case MILK_CHANNEL_POLLING_THREAD: serving = ChannelServing::PollingThread; break;
    default: return -MILK_EINVAL;
    }
    // The names are user memory copied once; each must end inside its field.
    if (!terminated(request.component) || !terminated(request.contract) || !terminated(request.instance))
        return -MILK_EINVAL;
    if (!valid_instance(request.instance)) return -MILK_EINVAL;
    const FoundComponent found = find_component(request.component);
    if (found.entry == nullptr) return -MILK_ENOENT;
    const ComponentEntry& entry = *found.entry;
    // The client speaks one contract; the component must serve exactly it.
    if (!same_text(entry.contract->name, request.contract) || entry.contract->version != request.version)
        return -MILK_EPROTONOSUPPORT;
    // Only a step component has a state between messages to restore.
    if (!snapshot.empty() && entry.restore == nullptr) return -MILK_EOPNOTSUPP;
    auto settings = copy_settings(request.settings);
    if (!settings.ok()) return to_errno(settings.error());
    // A component that speaks first or receives more than once per reply
    // cannot run a step per kick: it gets a thread, and user space learns
    // so from the flags it gets back.
    if (entry.hosting == Hosting::Thread && serving == ChannelServing::InKick) serving = ChannelServing::Thread;
    request.flags = serving_flags(serving);

    ChannelOrigin origin;
    copy_name(origin.instance, request.instance);
    origin.pid = milk_shim_current_pid();
    auto channel = ComponentChannel::try_create(entry, *found.stats, settings.value(), origin, request.ring_capacity,
                                                request.pool_bytes, serving, state.waker, state.serve_waker, snapshot);
    if (!channel.ok()) {
        // A component that refused its settings (or a snapshot it could not
        // read) says why in the log: the errno alone (EINVAL) cannot.
        if (channel.error().code == ErrorCode::InvalidArgument || channel.error().code == ErrorCode::ProtocolViolation) {
            log(MILK_LOG_INFO, channel.error().what, channel.error().detail);
            return -MILK_EINVAL;
        }
        return to_errno(channel.error());
    }
    request.region_bytes = channel.value()->region().size();
    request.heap_offset = channel.value()->layout().heap_offset;
    opened = std::move(channel).value();
    return 0;
}

long ioctl_open_channel(FileState& state, unsigned long argument) {
    if (state.has_channel()) return -MILK_EBUSY;
    milk_channel_open request{};
    if (int copied = milk_shim_copy_from_user(&request, argument, sizeof(request)); copied != 0) return copied;
    Owned<ComponentChannel> channel;
    if (long opened = open_channel(state, request, {}, channel); opened != 0) return opened;
    // Only a channel whose description reached user space is kept.
    if (int copied = milk_shim_copy_to_user(argument, &request, sizeof(request)); copied != 0) return copied;
    state.channel = std::move(channel);
    return 0;
}

long ioctl_open_restored(FileState& state, unsigned long argument) {
    if (state.has_channel()) return -MILK_EBUSY;
    milk_channel_restore request{};
    if (int copied = milk_shim_copy_from_user(&request, argument, sizeof(request)); copied != 0) return copied;
    if (request.reserved != 0 || request.snapshot_bytes == 0 || request.snapshot_bytes > MILK_SNAPSHOT_MAX)
        return -MILK_EINVAL;
    // Copied once; the component's reader checks every byte of the copy.
    auto snapshot = FixedArray<std::byte>::try_create(request.snapshot_bytes, FixedArray<std::byte>::Fill::Uninitialised);
    if (!snapshot.ok()) return -MILK_ENOMEM;
    if (int copied = milk_shim_copy_from_user(snapshot.value().data(), request.snapshot, request.snapshot_bytes);
        copied != 0)
        return copied;
    Owned<ComponentChannel> channel;
    if (long opened = open_channel(state, request.open,
                                   std::span<const std::byte>(snapshot.value().data(), request.snapshot_bytes), channel);
        opened != 0)
        return opened;
    if (int copied = milk_shim_copy_to_user(argument, &request, sizeof(request)); copied != 0) return copied;
    state.channel = std::move(channel);
    return 0;
}

// MILK_IOC_PARK: the snapshot is written into kernel memory of at most the
// caller's capacity, then copied out once.
long ioctl_park(FileState& state, unsigned long argument) {
    if (!state.channel) return -MILK_ENODEV;
    milk_channel_park request{};
    if (int copied = milk_shim_copy_from_user(&request, argument, sizeof(request)); copied != 0) return copied;
    if (!state.channel->parkable()) return -MILK_EOPNOTSUPP;
    const std::uint32_t room = request.capacity < MILK_SNAPSHOT_MAX ? request.capacity : MILK_SNAPSHOT_MAX;
    auto buffer = FixedArray<std::byte>::try_create(room, FixedArray<std::byte>::Fill::Zero);
    if (!buffer.ok()) return -MILK_ENOMEM;
    auto written = state.channel->park(std::span<std::byte>(buffer.value().data(), room));
    if (!written.ok()) {
        if (written.error().code != ErrorCode::OutOfMemory) return to_errno(written.error());
        // OutOfMemory: the buffer was too small; its detail is what it needs.
        const auto needed = static_cast<std::uint64_t>(written.error().detail);
        request.bytes = needed > MILK_SNAPSHOT_MAX ? MILK_SNAPSHOT_MAX + 1 : static_cast<std::uint32_t>(needed);
        if (int copied = milk_shim_copy_to_user(argument, &request, sizeof(request)); copied != 0) return copied;
        return -MILK_ENOSPC;
    }
    request.bytes = static_cast<std::uint32_t>(written.value());
    if (int copied = milk_shim_copy_to_user(request.snapshot, buffer.value().data(), written.value()); copied != 0)
        return copied;
    return milk_shim_copy_to_user(argument, &request, sizeof(request));
}

long ioctl_resume(FileState& state, unsigned long argument) {
    if (argument != 0) return -MILK_EINVAL;
    if (!state.channel) return -MILK_ENODEV;
    auto taken = state.channel->resume();
    if (!taken.ok()) return to_errno(taken.error());
    return taken.value();
}

long ioctl_retire(FileState& state, unsigned long argument) {
    if (argument != 0) return -MILK_EINVAL;
    if (!state.channel) return -MILK_ENODEV;
    auto retired = state.channel->retire();
    if (!retired.ok()) return to_errno(retired.error());
    return 0;
}

long ioctl_component_info(unsigned long argument) {
    milk_component_info info{};
    if (int copied = milk_shim_copy_from_user(&info, argument, sizeof(info)); copied != 0) return copied;
    if (!terminated(info.component)) return -MILK_EINVAL;
    const FoundComponent found = find_component(info.component);
    if (found.entry == nullptr) return -MILK_ENOENT;
    copy_name(info.contract, found.entry->contract->name);
    info.version = found.entry->contract->version;
    info.hosting = found.entry->hosting == Hosting::PerMessage ? MILK_HOSTING_PER_MESSAGE : MILK_HOSTING_THREAD;
    info.channels = found.stats->channels.load(std::memory_order_relaxed);
    info.reserved = 0;
    info.messages = found.stats->messages.load(std::memory_order_relaxed);
    return milk_shim_copy_to_user(argument, &info, sizeof(info));
}

// The component's open channels, for milkctl. The entries are gathered
// into kernel memory under the directory's lock and copied out after it.
long ioctl_list_channels(unsigned long argument) {
    milk_channel_list request{};
    if (int copied = milk_shim_copy_from_user(&request, argument, sizeof(request)); copied != 0) return copied;
    if (!terminated(request.component) || !terminated(request.instance)) return -MILK_EINVAL;
    if (request.capacity > MILK_LIST_CHANNELS_MAX) return -MILK_EINVAL;
    const FoundComponent found = find_component(request.component);
    if (found.entry == nullptr) return -MILK_ENOENT;
    auto entries = FixedArray<milk_channel_entry>::try_create(request.capacity, FixedArray<milk_channel_entry>::Fill::Zero);
    if (!entries.ok()) return -MILK_ENOMEM;
    request.count = list_channels(*found.entry, request.instance, entries.value().data(), request.capacity);
    const std::uint32_t written = request.count < request.capacity ? request.count : request.capacity;
    if (written > 0) {
        if (int copied = milk_shim_copy_to_user(request.entries, entries.value().data(), written * sizeof(milk_channel_entry));
            copied != 0)
            return copied;
    }
    return milk_shim_copy_to_user(argument, &request, sizeof(request));
}

// For a process the fd was handed to: what it needs to map and attach.
long ioctl_channel_info(FileState& state, unsigned long argument) {
    if (!state.channel) return -MILK_ENODEV;
    const ComponentChannel& channel = *state.channel;
    milk_channel_info info{};
    copy_name(info.component, channel.entry().name);
    copy_name(info.contract, channel.entry().contract->name);
    copy_name(info.instance, channel.origin().instance);
    info.version = channel.entry().contract->version;
    info.ring_capacity = channel.layout().ring_capacity;
    info.pool_bytes = channel.layout().pool_bytes;
    info.flags = serving_flags(channel.serving());
    info.region_bytes = channel.region().size();
    info.heap_offset = channel.layout().heap_offset;
    return milk_shim_copy_to_user(argument, &info, sizeof(info));
}

long ioctl_channel_error(FileState& state, unsigned long argument) {
    if (!state.channel) return -MILK_ENODEV;
    const milk_channel_error record = state.channel->error_record();
    return milk_shim_copy_to_user(argument, &record, sizeof(record));
}

long ioctl_blk_create(FileState& state, unsigned long argument) {
    if (state.has_channel()) return -MILK_EBUSY;
    const long created = blk::create(argument, state.disk);
    if (created == 0) state.disk_view.store(&*state.disk, std::memory_order_release);
    return created;
}

long ioctl_blk_stats(const FileState& state, unsigned long argument) {
    if (!state.disk) return -MILK_ENODEV;
    return state.disk->ioctl_stats(argument);
}

long ioctl_kick(FileState& state, unsigned long argument) {
    if (argument != 0) return -MILK_EINVAL;
    if (state.threaded()) {
        if (state.channel->closed()) return -MILK_EPIPE;
        state.channel->mark_awake();
        milk_shim_wake(state.serve_waker);
        return 0;
    }
    if (!state.channel) return -MILK_ENODEV;
    auto taken = state.channel->kick();
    if (!taken.ok()) return to_errno(taken.error());
    return taken.value();
}

}  // namespace
}  // namespace milk::kernel

using milk::kernel::FileState;

extern "C" int milk_core_init(void) {
    auto checked = milk::kernel::run_self_test();
    if (!checked.ok()) {
        milk::kernel::log(MILK_LOG_ERR, checked.error().what, checked.error().detail);
        return -MILK_EINVAL;
    }
    milk::kernel::log(MILK_LOG_INFO, "core self-test passed", checked.value());
    return 0;
}

extern "C" void milk_core_exit(void) { milk::kernel::drop_traces(); }

extern "C" void* milk_core_open(void* waker, void* serve_waker) {
    auto state = new (std::nothrow) FileState{};
    if (state != nullptr) {
        state->waker = waker;
        state->serve_waker = serve_waker;
    }
    return state;
}

extern "C" int milk_core_wants_thread(void* file_state) {
    auto& state = *static_cast<FileState*>(file_state);
    if (!state.channel) return MILK_THREAD_NONE;
    switch (state.channel->serving()) {
    case milk::kernel::ChannelServing::InKick: return MILK_THREAD_NONE;
    case milk::kernel::ChannelServing::Thread: return MILK_THREAD_SLEEPING;
    case milk::kernel::ChannelServing::PollingThread: return MILK_THREAD_POLLING;
    }
    return MILK_THREAD_NONE;
}

extern "C" void milk_core_drop_channel(void* file_state) {
    auto& state = *static_cast<FileState*>(file_state);
    state.channel = milk::kernel::Owned<milk::kernel::ComponentChannel>{};
}

// The serving thread's body, without the file's mutex: the ioctls that run
// beside it touch only what ComponentChannel keeps for them (the doorbell
// word, m_closed, m_published, the error record published with m_closed).
// The channel cannot go meanwhile: release stops this thread first, and
// OPEN_CHANNEL refuses a file that has a channel.
extern "C" void milk_core_run(void* file_state) {
    auto& state = *static_cast<FileState*>(file_state);
    if (state.channel) state.channel->run();
}

extern "C" void milk_core_release(void* file_state) {
    // An enclave whose agent goes falls back before anything else goes.
    milk::kernel::sched::release_file(file_state);
    delete static_cast<FileState*>(file_state);
}

extern "C" long milk_core_ioctl(void* file_state, unsigned int command, unsigned long argument) {
    auto& state = *static_cast<FileState*>(file_state);
    switch (command) {
    case MILK_IOC_VERSION: return milk::kernel::ioctl_version(argument);
    case MILK_IOC_KICK: return milk::kernel::ioctl_kick(state, argument);
    case MILK_IOC_OPEN_CHANNEL: return milk::kernel::ioctl_open_channel(state, argument);
    case MILK_IOC_CHANNEL_ERROR: return milk::kernel::ioctl_channel_error(state, argument);
    case MILK_IOC_COMPONENT_INFO: return milk::kernel::ioctl_component_info(argument);
    case MILK_IOC_CHANNEL_INFO: return milk::kernel::ioctl_channel_info(state, argument);
    case MILK_IOC_LIST_CHANNELS: return milk::kernel::ioctl_list_channels(argument);
    case MILK_IOC_PARK: return milk::kernel::ioctl_park(state, argument);
    case MILK_IOC_RESUME: return milk::kernel::ioctl_resume(state, argument);
    case MILK_IOC_RETIRE: return milk::kernel::ioctl_retire(state, argument);
    case MILK_IOC_OPEN_RESTORED: return milk::kernel::ioctl_open_restored(state, argument);
    case MILK_IOC_TRACE: return milk::kernel::ioctl_trace(argument);
    case MILK_IOC_BLK_CREATE: return milk::kernel::ioctl_blk_create(state, argument);
    case MILK_IOC_BLK_STATS: return milk::kernel::ioctl_blk_stats(state, argument);
    default: return -MILK_ENOTTY;
    }
}

extern "C" long milk_core_mem_create(void* file_state, unsigned long argument, void* mapping) {
    auto& state = *static_cast<FileState*>(file_state);
    if (state.has_channel()) return -MILK_EBUSY;
    milk::kernel::Owned<milk::kernel::mem::Region> region;
    if (long created = milk::kernel::mem::create(argument, mapping, region); created != 0) return created;
    state.region = std::move(region);
    state.region_view.store(&*state.region, std::memory_order_release);
    return 0;
}

extern "C" int milk_core_is_mem_ioctl(unsigned int command) {
    return command == MILK_IOC_MEM_WAIT || command == MILK_IOC_MEM_APPLY || command == MILK_IOC_MEM_FALLBACK ||
           command == MILK_IOC_MEM_STATS;
}

extern "C" long milk_core_mem_ioctl(void* file_state, unsigned int command, unsigned long argument) {
    auto& state = *static_cast<FileState*>(file_state);
    milk::kernel::mem::Region* region = state.region_view.load(std::memory_order_acquire);
    if (region == nullptr) return -MILK_ENODEV;
    if (command == MILK_IOC_MEM_STATS) return region->ioctl_stats(argument);
    // The rest are the agent's.
    if (!region->has_agent()) return -MILK_ENODEV;
    switch (command) {
    case MILK_IOC_MEM_WAIT: return region->ioctl_wait(argument);
    case MILK_IOC_MEM_APPLY: return region->ioctl_apply(argument);
    case MILK_IOC_MEM_FALLBACK: return argument == 0 ? region->ioctl_fallback() : -MILK_EINVAL;
    default: return -MILK_ENOTTY;
    }
}

extern "C" int milk_core_is_blk_ioctl(unsigned int command) {
    return command == MILK_IOC_BLK_WAIT || command == MILK_IOC_BLK_DATA || command == MILK_IOC_BLK_COMPLETE;
}

extern "C" long milk_core_blk_ioctl(void* file_state, unsigned int command, unsigned long argument) {
    auto& state = *static_cast<FileState*>(file_state);
    milk::kernel::blk::Device* disk = state.disk_view.load(std::memory_order_acquire);
    if (disk == nullptr || !disk->has_agent()) return -MILK_ENODEV;
    switch (command) {
    case MILK_IOC_BLK_WAIT: return disk->ioctl_wait(argument);
    case MILK_IOC_BLK_DATA: return disk->ioctl_answers(argument, false);
    case MILK_IOC_BLK_COMPLETE: return disk->ioctl_answers(argument, true);
    default: return -MILK_ENOTTY;
    }
}

extern "C" int milk_core_mem_region(void* file_state, void** region, unsigned long long* bytes) {
    auto& state = *static_cast<FileState*>(file_state);
    if (!state.region) return -MILK_ENODEV;
    *region = &*state.region;
    *bytes = state.region->bytes();
    return 0;
}

extern "C" int milk_core_mmap_region(void* file_state, void** region, milk_size_t* bytes) {
    auto& state = *static_cast<FileState*>(file_state);
    if (!state.channel) return -MILK_ENODEV;
    *region = state.channel->region().base();
    *bytes = state.channel->region().size();
    return 0;
}

extern "C" unsigned int milk_core_poll(void* file_state) {
    auto& state = *static_cast<FileState*>(file_state);
    // A file without a component channel has nothing to wait for.
    if (!state.channel) return MILK_POLL_CLOSED;
    return state.channel->poll();
}
