// The module's directory of open component channels: what
// MILK_IOC_LIST_CHANNELS reports, so that `milkctl status` shows a `kernel`
// instance's channels, their protocol states and their message counts as it
// does for the other placements.
//
// Every ComponentChannel holds a DirectoryLink, its last member: the link
// enters the list when the channel has been built and leaves it before
// anything of the channel is torn down, so the list never names a channel
// that is gone. The list is guarded by the shim's directory mutex
// (milk_shim_directory_lock); a lister reads under it only what a channel
// keeps for it (immutable fields and atomics), so it never waits for a
// channel's own work, nor a channel for it beyond the link and unlink.
#pragma once

#include "milk_uapi.h"

#include <cstdint>

namespace milk::kernel {

class ComponentChannel;
struct ComponentEntry;

class DirectoryLink {
public:
    explicit DirectoryLink(const ComponentChannel& channel);
    ~DirectoryLink();
    DirectoryLink(const DirectoryLink&) = delete;
    DirectoryLink& operator=(const DirectoryLink&) = delete;

    // Unique since the module was loaded, from 1.
    [[nodiscard]] std::uint64_t id() const { return m_id; }

private:
    friend std::uint32_t list_channels(const ComponentEntry& component, const char* instance,
                                       milk_channel_entry* out, std::uint32_t capacity);

    const ComponentChannel* m_channel;
    DirectoryLink* m_previous = nullptr;
    DirectoryLink* m_next = nullptr;
    std::uint64_t m_id = 0;
};

// Writes the open channels of `component` (only those opened for
// `instance`, unless it is empty) to out[0..capacity), in the order they
// were opened, and returns how many match (which may be more than
// `capacity`). `out` is kernel memory: the caller copies it to user space
// after this returned, with the directory unlocked.
[[nodiscard]] std::uint32_t list_channels(const ComponentEntry& component, const char* instance,
                                          milk_channel_entry* out, std::uint32_t capacity);

}  // namespace milk::kernel
