// The kernel block device's core (MILK_IOC_BLK_*, docs/blk.md "The kernel
// device"). The shim (shim/milk_blk_shim.c) registers the blk-mq disk and
// hands every request to Device::request, which checks its range against
// the disk and then either
//   * calls the block service in the module directly: a read or write
//     segment by segment (each one mapped by the shim), a flush, a discard;
//     the request ends when the call returns; or
//   * queues it for the disk's agent in user space, which reads it
//     (MILK_IOC_BLK_WAIT), takes a write's data (MILK_IOC_BLK_DATA) and
//     ends it (MILK_IOC_BLK_COMPLETE, a read's data with it) when its
//     service, wherever it runs, has answered. A request the agent holds
//     past the disk's deadline fails (blk-mq's timeout handler asks
//     Device::timeout), so a stalled or dead agent never hangs the kernel.
//
// The disk is made with BLK_MQ_F_BLOCKING: requests arrive in process
// context and may sleep. One sleeping mutex, m_lock, guards the agent's
// books and serialises the calls into a service in the module (a service
// then needs no locking of its own, as behind a channel). Nothing under it
// touches user memory: a request's data crosses to or from the agent with
// the slot marked Copying and the lock let go (a fault on the agent's
// buffer may need I/O from this very disk), and the timeout handler waits
// for such a slot rather than end the request under the copy.
#include "blk_mechanism.hpp"

#include "kernel_log.hpp"
#include "mutex_guard.hpp"
#include "settings_table.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace milk::kernel::blk {
namespace {

constexpr std::uint64_t sector_bytes = 512;
// A service in the module answers as it is called; the block layer's own
// default then only catches a service that hangs.
constexpr std::uint32_t direct_timeout_ms = 30'000;
// A cookie is a sequence number above the tag: tags are reused, cookies not.
constexpr unsigned tag_bits = 16;
// Requests WAIT copies out per round, from the kernel stack.
constexpr std::size_t wait_chunk = 16;

bool terminated(const char (&text)[MILK_COMPONENT_NAME_MAX]) {
    for (const char c : text)
        if (c == '\0') return true;
    return false;
}

int to_errno(const Error& error) {
    switch (error.code) {
    case ErrorCode::OutOfMemory: return -MILK_ENOMEM;
    case ErrorCode::InvalidArgument: return -MILK_EINVAL;
    default: return -MILK_EIO;
    }
}

struct Transfer {
    DirectBlkService* service;
    bool write;
    std::uint64_t offset;
};

int agent_ready(void* argument) { return static_cast<const Device*>(argument)->agent_has_work() ? 1 : 0; }

std::uint32_t tag_of(std::uint64_t cookie) { return static_cast<std::uint32_t>(cookie & ((1u << tag_bits) - 1)); }

}  // namespace

Result<Owned<Device>> Device::try_create(const milk_blk_create& request) {
    if (request.depth < 1 || request.depth > MILK_BLK_MAX_DEPTH || !terminated(request.service))
        return Error{ErrorCode::InvalidArgument, "blk: a malformed device", request.depth};
    const bool agent = request.service[0] == '\0';
    auto device = MILK_TRY(Owned<Device>::try_create());
    Device& made = *device;
    made.m_depth = request.depth;
    std::uint32_t timeout_ms = direct_timeout_ms;
    if (agent) {
        if (request.settings.count != 0)
            return Error{ErrorCode::InvalidArgument, "blk: settings without a service", request.settings.count};
        if (request.block_size != 512 && request.block_size != 4096)
            return Error{ErrorCode::InvalidArgument, "blk: an agent's disk needs a block size of 512 or 4096", request.block_size};
        if (request.blocks < 1 || request.blocks > MILK_BLK_MAX_BYTES / request.block_size)
            return Error{ErrorCode::InvalidArgument, "blk: an agent's disk of 1 block to 1 TiB", static_cast<std::int64_t>(request.blocks)};
        if (request.deadline_ms > MILK_BLK_MAX_DEADLINE_MS)
            return Error{ErrorCode::InvalidArgument, "blk: a deadline beyond 600 s", request.deadline_ms};
        timeout_ms = request.deadline_ms == 0 ? MILK_BLK_DEFAULT_DEADLINE_MS : request.deadline_ms;
        made.m_blocks = request.blocks;
        made.m_block_size = request.block_size;
        made.m_slots = MILK_TRY(FixedArray<Slot>::try_create(request.depth, FixedArray<Slot>::Fill::Zero));
        made.m_queue = MILK_TRY(FixedArray<QueuedCookie>::try_create(request.depth, FixedArray<QueuedCookie>::Fill::Zero));
        made.m_agent_queue = milk_shim_queue_create();
        if (made.m_agent_queue == nullptr) return Error{ErrorCode::OutOfMemory, "blk: no memory for the agent's queue", 0};
    } else {
        if (request.deadline_ms != 0)
            return Error{ErrorCode::InvalidArgument, "blk: a deadline is for an agent's disk", request.deadline_ms};
        const FoundComponent found = find_component(request.service);
        if (found.entry == nullptr || found.entry->create_direct_blk == nullptr)
            return Error{ErrorCode::InvalidArgument, "blk: no block service of that name in the module", 0};
        const auto settings = MILK_TRY(copy_settings(request.settings));
        made.m_service = MILK_TRY(found.entry->create_direct_blk(settings));
        made.m_blocks = made.m_service->blocks();
        made.m_block_size = made.m_service->block_size();
        if (made.m_block_size != 512 && made.m_block_size != 4096)
            return Error{ErrorCode::InvalidArgument, "blk: the service's block size is neither 512 nor 4096", made.m_block_size};
    }
    made.m_lock = milk_shim_mutex_create();
    if (made.m_lock == nullptr) return Error{ErrorCode::OutOfMemory, "blk: no memory for the device's lock", 0};
    // Last: the disk takes requests (the partition scan's reads) as soon
    // as it exists, so everything they use is ready.
    int error = 0;
    made.m_disk = milk_shim_blk_disk_create(&made, made.m_blocks * made.m_block_size, made.m_block_size, request.depth,
                                            timeout_ms, &made.m_index, &error);
    if (made.m_disk == nullptr) {
        if (error == -MILK_ENOSPC) return Error{ErrorCode::WouldBlock, "blk: every device number is in use", MILK_BLK_MAX_DEVICES};
        return Error{ErrorCode::OutOfMemory, "blk: the block layer refused the disk", error};
    }
    return device;
}

Device::~Device() {
    if (m_disk != nullptr) {
        if (has_agent()) {
            // No ioctl runs (the file is being released): nothing is being
            // copied. Requests that come from now on fail at once; those
            // the agent held fail now, one by one, each ended outside the
            // lock (its completion may submit more I/O).
            {
                MutexGuard guard(m_lock);
                m_dead = true;
            }
            for (;;) {
                void* request = nullptr;
                {
                    MutexGuard guard(m_lock);
                    for (std::size_t tag = 0; tag < m_slots.size() && request == nullptr; ++tag) {
                        Slot& slot = m_slots[tag];
                        if (slot.state == SlotState::Free) continue;
                        request = slot.request;
                        slot.state = SlotState::Free;
                        ++m_stats.errors;
                    }
                    m_queued.store(0, std::memory_order_release);
                }
                if (request == nullptr) break;
                milk_shim_blk_end(request, -MILK_EIO);
            }
        }
        milk_shim_blk_disk_destroy(m_disk);
    }
    if (m_agent_queue != nullptr) milk_shim_queue_destroy(m_agent_queue);
    if (m_lock != nullptr) milk_shim_mutex_destroy(m_lock);
}

int Device::transfer_segment(void* context, void* data, unsigned int bytes) {
    auto& transfer = *static_cast<Transfer*>(context);
    auto* at = static_cast<std::byte*>(data);
    auto done = transfer.write ? transfer.service->write(transfer.offset, std::span<const std::byte>(at, bytes))
                               : transfer.service->read(transfer.offset, std::span<std::byte>(at, bytes));
    if (!done.ok()) return to_errno(done.error());
    transfer.offset += bytes;
    return 0;
}

int Device::request(milk_blk_op op, std::uint32_t tag, std::uint64_t offset, std::uint64_t bytes, void* request) {
    // The block layer keeps requests inside the disk's capacity and below
    // MILK_BLK_MAX_REQUEST_BYTES; one outside would be its bug or ours,
    // and is refused rather than trusted.
    // A flush has no range: the block layer's flush request carries no
    // meaningful position (blk-mq leaves it at -1).
    if (op == MILK_BLK_OP_FLUSH) offset = bytes = 0;
    const std::uint64_t size = m_blocks * m_block_size;
    const bool sized = op == MILK_BLK_OP_FLUSH ||
                       (offset % sector_bytes == 0 && bytes % sector_bytes == 0 && offset <= size && bytes <= size - offset &&
                        (op == MILK_BLK_OP_DISCARD || bytes <= MILK_BLK_MAX_REQUEST_BYTES));
    if (op > MILK_BLK_OP_DISCARD || !sized) {
        MutexGuard guard(m_lock);
        ++m_stats.errors;
        return op > MILK_BLK_OP_DISCARD ? -MILK_EOPNOTSUPP : -MILK_EINVAL;
    }
    return has_agent() ? queue_for_agent(op, tag, offset, bytes, request) : serve_directly(op, offset, bytes, request);
}

int Device::serve_directly(milk_blk_op op, std::uint64_t offset, std::uint64_t bytes, void* request) {
    MutexGuard guard(m_lock);
    int status = 0;
    switch (op) {
    case MILK_BLK_OP_READ:
    case MILK_BLK_OP_WRITE: {
        const bool write = op == MILK_BLK_OP_WRITE;
        Transfer transfer{&*m_service, write, offset};
        status = milk_shim_blk_segments(request, &Device::transfer_segment, &transfer);
        ++(write ? m_stats.writes : m_stats.reads);
        (write ? m_stats.write_bytes : m_stats.read_bytes) += bytes;
        break;
    }
    case MILK_BLK_OP_FLUSH: {
        ++m_stats.flushes;
        auto flushed = m_service->flush();
        if (!flushed.ok()) status = to_errno(flushed.error());
        break;
    }
    case MILK_BLK_OP_DISCARD: {
        ++m_stats.discards;
        auto discarded = m_service->discard(offset, bytes);
        if (!discarded.ok()) status = to_errno(discarded.error());
        break;
    }
    }
    if (status != 0) ++m_stats.errors;
    return status;
}

int Device::queue_for_agent(milk_blk_op op, std::uint32_t tag, std::uint64_t offset, std::uint64_t bytes, void* request) {
    {
        MutexGuard guard(m_lock);
        if (m_dead) {
            ++m_stats.errors;
            return -MILK_EIO;
        }
        // blk-mq never hands out a tag still in flight: a busy slot is our bug.
        if (tag >= m_depth || m_slots[tag].state != SlotState::Free) {
            log(MILK_LOG_ERR, "blk: a request's tag is out of range or still in flight (our bug)", tag);
            ++m_stats.errors;
            return -MILK_EIO;
        }
        Slot& slot = m_slots[tag];
        const std::uint64_t cookie = (++m_sequence << tag_bits) | tag;
        slot.request = request;
        slot.state = SlotState::Queued;
        slot.seen = milk_blk_request{cookie, static_cast<std::uint32_t>(op), 0, offset, bytes};
        const std::uint32_t queued = m_queued.load(std::memory_order_relaxed);
        m_queue[(m_queue_head + queued) % m_depth] = QueuedCookie{cookie};
        m_queued.store(queued + 1, std::memory_order_release);
        switch (op) {
        case MILK_BLK_OP_READ:
            ++m_stats.reads;
            m_stats.read_bytes += bytes;
            break;
        case MILK_BLK_OP_WRITE:
            ++m_stats.writes;
            m_stats.write_bytes += bytes;
            break;
        case MILK_BLK_OP_FLUSH: ++m_stats.flushes; break;
        case MILK_BLK_OP_DISCARD: ++m_stats.discards; break;
        }
    }
    milk_shim_queue_wake(m_agent_queue);
    return MILK_BLK_QUEUED;
}

void Device::unqueue(std::uint64_t cookie) {
    const std::uint32_t queued = m_queued.load(std::memory_order_relaxed);
    std::uint32_t kept = 0;
    for (std::uint32_t i = 0; i < queued; ++i) {
        const QueuedCookie entry = m_queue[(m_queue_head + i) % m_depth];
        if (entry.value != cookie) m_queue[(m_queue_head + kept++) % m_depth] = entry;
    }
    m_queued.store(kept, std::memory_order_release);
}

milk_blk_timeout Device::timeout(std::uint32_t tag) {
    // A service in the module is called within queue_rq: its request ends
    // when the call returns, never under it.
    if (!has_agent()) return MILK_BLK_TIMEOUT_RESET;
    MutexGuard guard(m_lock);
    if (tag >= m_depth) return MILK_BLK_TIMEOUT_DONE;
    Slot& slot = m_slots[tag];
    switch (slot.state) {
    case SlotState::Free: return MILK_BLK_TIMEOUT_DONE;  // ended meanwhile, by COMPLETE or the release
    case SlotState::Copying: return MILK_BLK_TIMEOUT_RESET;
    case SlotState::Queued: unqueue(slot.seen.cookie); break;
    case SlotState::WithAgent: break;
    }
    slot.state = SlotState::Free;
    ++m_stats.timeouts;
    ++m_stats.errors;
    return MILK_BLK_TIMEOUT_END;
}

Slot* Device::agent_slot(std::uint64_t cookie) {
    const std::uint32_t tag = tag_of(cookie);
    if (tag >= m_depth) return nullptr;
    Slot& slot = m_slots[tag];
    return slot.state == SlotState::WithAgent && slot.seen.cookie == cookie ? &slot : nullptr;
}

long Device::ioctl_wait(unsigned long argument) {
    milk_blk_wait wait{};
    if (milk_shim_copy_from_user(&wait, argument, sizeof(wait)) != 0) return -MILK_EFAULT;
    if (wait.capacity < 1 || wait.capacity > MILK_BLK_MAX_WAIT) return -MILK_EINVAL;
    for (;;) {
        std::uint32_t written = 0;
        while (written < wait.capacity) {
            milk_blk_request chunk[wait_chunk];
            std::uint32_t taken = 0;
            {
                MutexGuard guard(m_lock);
                while (taken < wait_chunk && written + taken < wait.capacity && m_queued.load(std::memory_order_relaxed) != 0) {
                    const QueuedCookie entry = m_queue[m_queue_head];
                    m_queue_head = (m_queue_head + 1) % m_depth;
                    m_queued.store(m_queued.load(std::memory_order_relaxed) - 1, std::memory_order_release);
                    Slot& slot = m_slots[tag_of(entry.value)];
                    if (slot.state != SlotState::Queued || slot.seen.cookie != entry.value) continue;
                    slot.state = SlotState::WithAgent;
                    chunk[taken++] = slot.seen;
                }
            }
            if (taken == 0) break;
            if (milk_shim_copy_to_user(wait.requests + std::uint64_t{written} * sizeof(milk_blk_request), chunk,
                                       taken * sizeof(milk_blk_request)) != 0) {
                // The agent cannot learn of these: they fail now rather
                // than wait for the deadline.
                for (std::uint32_t i = 0; i < taken; ++i) {
                    void* request = nullptr;
                    {
                        MutexGuard guard(m_lock);
                        if (Slot* slot = agent_slot(chunk[i].cookie)) {
                            request = slot->request;
                            slot->state = SlotState::Free;
                            ++m_stats.errors;
                        }
                    }
                    if (request != nullptr) milk_shim_blk_end(request, -MILK_EIO);
                }
                return -MILK_EFAULT;
            }
            written += taken;
        }
        if (written > 0 || wait.timeout_ns == 0) {
            wait.count = written;
            return milk_shim_copy_to_user(argument, &wait, sizeof(wait)) == 0 ? 0 : -MILK_EFAULT;
        }
        const int waited = milk_shim_queue_wait(m_agent_queue, MILK_WAIT_INTERRUPTIBLE, &agent_ready, this, wait.timeout_ns);
        if (waited < 0) return waited;
        if (waited == 1) {
            wait.count = 0;
            return milk_shim_copy_to_user(argument, &wait, sizeof(wait)) == 0 ? 0 : -MILK_EFAULT;
        }
    }
}

std::uint32_t Device::answer(const milk_blk_answer& answer, bool complete) {
    if (answer.result != 0 || (complete && answer.status > 4095)) return MILK_EINVAL;
    const std::uint32_t tag = tag_of(answer.cookie);
    void* request = nullptr;
    bool copy = true;
    {
        MutexGuard guard(m_lock);
        Slot* slot = agent_slot(answer.cookie);
        if (slot == nullptr) return MILK_ENOENT;
        request = slot->request;
        if (!complete && slot->seen.op != MILK_BLK_WRITE) return MILK_EINVAL;
        // Only a read that succeeded brings data; anything else ends as it stands.
        copy = !complete || (slot->seen.op == MILK_BLK_READ && answer.status == 0);
        slot->state = copy ? SlotState::Copying : SlotState::Free;
        if (complete && answer.status != 0) ++m_stats.errors;
    }
    if (!copy) {
        milk_shim_blk_end(request, -static_cast<int>(answer.status));
        return 0;
    }
    // Copying: the timeout handler waits, and only this call moves the slot on.
    const int copied = milk_shim_blk_copy_user(request, answer.data, complete ? 0 : 1);
    {
        MutexGuard guard(m_lock);
        Slot& slot = m_slots[tag];
        if (!complete) {
            slot.state = SlotState::WithAgent;
            return copied == 0 ? 0 : MILK_EFAULT;
        }
        slot.state = SlotState::Free;
        if (copied != 0) ++m_stats.errors;
    }
    // A read whose data could not be taken fails: its pages hold part of it.
    milk_shim_blk_end(request, copied == 0 ? 0 : -MILK_EIO);
    return copied == 0 ? 0 : MILK_EFAULT;
}

long Device::ioctl_answers(unsigned long argument, bool complete) {
    milk_blk_answers answers{};
    if (milk_shim_copy_from_user(&answers, argument, sizeof(answers)) != 0) return -MILK_EFAULT;
    if (answers.count > MILK_BLK_MAX_ANSWERS) return -MILK_EINVAL;
    std::uint32_t done = 0;
    for (std::uint32_t i = 0; i < answers.count; ++i) {
        const unsigned long at = answers.answers + std::uint64_t{i} * sizeof(milk_blk_answer);
        milk_blk_answer one{};
        if (milk_shim_copy_from_user(&one, at, sizeof(one)) != 0) return -MILK_EFAULT;
        one.result = answer(one, complete);
        if (one.result == 0) ++done;
        if (milk_shim_copy_to_user(at + offsetof(milk_blk_answer, result), &one.result, sizeof(one.result)) != 0)
            return -MILK_EFAULT;
    }
    answers.done = done;
    return milk_shim_copy_to_user(argument, &answers, sizeof(answers)) == 0 ? 0 : -MILK_EFAULT;
}

long Device::ioctl_stats(unsigned long argument) const {
    milk_blk_stats stats{};
    {
        MutexGuard guard(m_lock);
        stats = m_stats;
    }
    return milk_shim_copy_to_user(argument, &stats, sizeof(stats)) == 0 ? 0 : -MILK_EFAULT;
}

long create(unsigned long argument, Owned<Device>& created) {
    milk_blk_create request{};
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (!terminated(request.service)) return -MILK_EINVAL;
    if (request.service[0] != '\0') {
        // Refused like MILK_IOC_OPEN_CHANNEL refuses a component.
        const FoundComponent found = find_component(request.service);
        if (found.entry == nullptr) return -MILK_ENOENT;
        if (found.entry->create_direct_blk == nullptr) return -MILK_EPROTONOSUPPORT;
    }
    auto device = Device::try_create(request);
    if (!device.ok()) {
        // The service's reason for refusing (its settings) goes to the log:
        // the errno cannot say it.
        log(MILK_LOG_INFO, device.error().what, device.error().detail);
        switch (device.error().code) {
        case ErrorCode::OutOfMemory: return -MILK_ENOMEM;
        case ErrorCode::WouldBlock: return -MILK_ENOSPC;
        default: return -MILK_EINVAL;
        }
    }
    request.blocks = device.value()->blocks();
    request.block_size = device.value()->block_size();
    request.index = device.value()->index();
    // The disk exists already; a caller that gave an unwritable argument
    // gets EFAULT and the disk goes with this (unowned) device.
    if (milk_shim_copy_to_user(argument, &request, sizeof(request)) != 0) return -MILK_EFAULT;
    created = std::move(device).value();
    return 0;
}

}  // namespace milk::kernel::blk

// The shim's calls (include/milk_core.h).
extern "C" int milk_core_blk_request(void* device, enum milk_blk_op op, unsigned int tag, unsigned long long offset,
                                     unsigned long long bytes, void* request) {
    return static_cast<milk::kernel::blk::Device*>(device)->request(op, tag, offset, bytes, request);
}

extern "C" enum milk_blk_timeout milk_core_blk_timeout(void* device, unsigned int tag) {
    return static_cast<milk::kernel::blk::Device*>(device)->timeout(tag);
}
