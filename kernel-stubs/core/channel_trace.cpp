#include "channel_trace.hpp"

#include "component.hpp"
#include "settings_table.hpp"

#include "milk_core.h"

#include <atomic>
#include <cstddef>

namespace milk::kernel {
namespace {

struct Session {
    char instance[MILK_INSTANCE_NAME_MAX];
    // vmalloc'd, MILK_TRACE_RECORDS of them; null: the session is free.
    milk_trace_record* records;
    std::uint32_t count;
    std::uint32_t dropped;
};

// Guarded by the shim's trace mutex. Constant-initialised: the module runs
// no global constructors.
constinit Session sessions[MILK_TRACE_SESSIONS] = {};
// Sessions in use: the message path's only cost while none is.
constinit std::atomic<std::uint32_t> running{0};

class TraceGuard {
public:
    TraceGuard() { milk_shim_trace_lock(); }
    ~TraceGuard() { milk_shim_trace_unlock(); }
    TraceGuard(const TraceGuard&) = delete;
    TraceGuard& operator=(const TraceGuard&) = delete;
};

Session* find(const char* instance) {
    for (Session& session : sessions)
        if (session.records != nullptr && same_text(session.instance, instance)) return &session;
    return nullptr;
}

long start(const milk_trace& request) {
    if (find_component(request.component).entry == nullptr) return -MILK_ENOENT;
    // Taken before the lock: vmalloc may sleep for a while.
    auto* records = static_cast<milk_trace_record*>(
        milk_shim_vmalloc_user(std::size_t{MILK_TRACE_RECORDS} * sizeof(milk_trace_record)));
    if (records == nullptr) return -MILK_ENOMEM;
    const TraceGuard guard;
    long result = 0;
    Session* free_session = nullptr;
    for (Session& session : sessions)
        if (session.records == nullptr && free_session == nullptr) free_session = &session;
    if (find(request.instance) != nullptr) result = -MILK_EALREADY;
    else if (free_session == nullptr) result = -MILK_EBUSY;
    if (result != 0) {
        milk_shim_vfree(records);
        return result;
    }
    for (std::size_t i = 0; i < MILK_INSTANCE_NAME_MAX; ++i) free_session->instance[i] = request.instance[i];
    free_session->records = records;
    free_session->count = 0;
    free_session->dropped = 0;
    running.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

long stop(milk_trace& request, unsigned long argument) {
    if (request.capacity > MILK_TRACE_RECORDS) return -MILK_EINVAL;
    milk_trace_record* records = nullptr;
    {
        const TraceGuard guard;
        Session* session = find(request.instance);
        if (session == nullptr) return -MILK_ENOENT;
        records = session->records;
        const std::uint32_t count = session->count;
        request.count = count < request.capacity ? count : request.capacity;
        request.dropped = session->dropped + (count - request.count);
        session->records = nullptr;
        running.fetch_sub(1, std::memory_order_relaxed);
    }
    // Ours alone now: copied out without the lock.
    long result = 0;
    if (request.count > 0)
        result = milk_shim_copy_to_user(request.records, records, std::size_t{request.count} * sizeof(milk_trace_record));
    milk_shim_vfree(records);
    if (result != 0) return result;
    return milk_shim_copy_to_user(argument, &request, sizeof(request));
}

}  // namespace

void trace_message(const TracedMessage& message) {
    if (running.load(std::memory_order_relaxed) == 0) [[likely]]
        return;
    const TraceGuard guard;
    Session* session = find(message.instance);
    if (session == nullptr) return;
    if (session->count == MILK_TRACE_RECORDS) {
        ++session->dropped;
        return;
    }
    milk_trace_record& record = session->records[session->count++];
    record.time_ns = static_cast<std::uint64_t>(milk_shim_clock_ns());
    record.channel = message.channel;
    record.tag = message.tag;
    record.from_client = message.from_client ? 1 : 0;
    record.state_before = message.state_before;
    record.state_after = message.state_after;
}

long ioctl_trace(unsigned long argument) {
    milk_trace request{};
    if (int copied = milk_shim_copy_from_user(&request, argument, sizeof(request)); copied != 0) return copied;
    // User memory copied once; each name must end inside its field.
    if (!terminated(request.instance) || request.instance[0] == '\0' || !terminated(request.component))
        return -MILK_EINVAL;
    switch (request.command) {
    case MILK_TRACE_START: return start(request);
    case MILK_TRACE_STOP: return stop(request, argument);
    default: return -MILK_EINVAL;
    }
}

void drop_traces() {
    const TraceGuard guard;
    for (Session& session : sessions) {
        if (session.records == nullptr) continue;
        milk_shim_vfree(session.records);
        session.records = nullptr;
    }
    running.store(0, std::memory_order_relaxed);
}

}  // namespace milk::kernel
