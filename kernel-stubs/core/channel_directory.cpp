#include "channel_directory.hpp"

#include "component_channel.hpp"

#include "milk_core.h"

namespace milk::kernel {
namespace {

// The list, oldest first, and the next id; guarded by the shim's directory
// mutex. Constant-initialised: the module runs no global constructors.
constinit DirectoryLink* first = nullptr;
constinit DirectoryLink* last = nullptr;
constinit std::uint64_t next_id = 1;

// Holds the directory mutex for a scope.
class DirectoryGuard {
public:
    DirectoryGuard() { milk_shim_directory_lock(); }
    ~DirectoryGuard() { milk_shim_directory_unlock(); }
    DirectoryGuard(const DirectoryGuard&) = delete;
    DirectoryGuard& operator=(const DirectoryGuard&) = delete;
};

bool same_instance(const char* wanted, const char* opened_for) {
    return wanted[0] == '\0' || same_text(wanted, opened_for);
}

}  // namespace

DirectoryLink::DirectoryLink(const ComponentChannel& channel) : m_channel(&channel) {
    const DirectoryGuard guard;
    m_id = next_id++;
    m_previous = last;
    if (last != nullptr)
        last->m_next = this;
    else
        first = this;
    last = this;
}

DirectoryLink::~DirectoryLink() {
    const DirectoryGuard guard;
    if (m_previous != nullptr)
        m_previous->m_next = m_next;
    else
        first = m_next;
    if (m_next != nullptr)
        m_next->m_previous = m_previous;
    else
        last = m_previous;
}

std::uint32_t list_channels(const ComponentEntry& component, const char* instance, milk_channel_entry* out,
                            std::uint32_t capacity) {
    const DirectoryGuard guard;
    std::uint32_t count = 0;
    for (const DirectoryLink* link = first; link != nullptr; link = link->m_next) {
        const ComponentChannel& channel = *link->m_channel;
        if (&channel.entry() != &component || !same_instance(instance, channel.origin().instance)) continue;
        if (count < capacity) channel.describe(out[count], link->m_id);
        // More than 2^32 open channels cannot exist (each holds a file).
        ++count;
    }
    return count;
}

}  // namespace milk::kernel
