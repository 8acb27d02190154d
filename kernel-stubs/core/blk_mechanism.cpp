// The kernel block device's core (MILK_IOC_BLK_*, docs/blk.md "The kernel
// device"). The shim (shim/milk_blk_shim.c) registers the blk-mq disk and
// hands every request to Device::request, which checks its range against
// the device and calls the block service directly: a read or write segment
// by segment (each one mapped by the shim), a flush, a discard.
//
// The disk is made with BLK_MQ_F_BLOCKING: requests arrive in process
// context and may sleep, so one sleeping mutex, m_lock, serialises the calls
// into the service. A service then needs no locking of its own, in the
// module as in a process, where a channel serves one request batch at a
// time.
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

bool terminated(const char (&text)[MILK_COMPONENT_NAME_MAX]) {
    for (const char c : text)
        if (c == '\0') return true;
    return false;
}

int to_errno(const Error& error) {
    switch (error.code) {
    case ErrorCode::OutOfMemory: return -MILK_ENOMEM;
    case ErrorCode::InvalidArgument: return -MILK_EINVAL;
    default: return -MILK_EPROTO;  // the block layer reports every other error as an I/O error
    }
}

struct Transfer {
    DirectBlkService* service;
    bool write;
    std::uint64_t offset;
    int status;
};

}  // namespace

Result<Owned<Device>> Device::try_create(const milk_blk_create& request) {
    if (request.depth < 1 || request.depth > MILK_BLK_MAX_DEPTH || request.reserved != 0 || !terminated(request.service))
        return Error{ErrorCode::InvalidArgument, "blk: a malformed device", request.depth};
    const FoundComponent found = find_component(request.service);
    if (found.entry == nullptr || found.entry->create_direct_blk == nullptr)
        return Error{ErrorCode::InvalidArgument, "blk: no block service of that name in the module", 0};
    const auto settings = MILK_TRY(copy_settings(request.settings));

    auto device = MILK_TRY(Owned<Device>::try_create());
    Device& made = *device;
    made.m_service = MILK_TRY(found.entry->create_direct_blk(settings));
    made.m_blocks = made.m_service->blocks();
    made.m_block_size = made.m_service->block_size();
    if (made.m_block_size != 512 && made.m_block_size != 4096)
        return Error{ErrorCode::InvalidArgument, "blk: the service's block size is neither 512 nor 4096", made.m_block_size};
    made.m_lock = milk_shim_mutex_create();
    if (made.m_lock == nullptr) return Error{ErrorCode::OutOfMemory, "blk: no memory for the device's lock", 0};
    // Last: the disk takes requests (the partition scan's reads) as soon
    // as it exists, so everything they use is ready.
    int error = 0;
    made.m_disk = milk_shim_blk_disk_create(&made, made.m_blocks * made.m_block_size, made.m_block_size, request.depth,
                                            &made.m_index, &error);
    if (made.m_disk == nullptr) {
        if (error == -MILK_ENOSPC) return Error{ErrorCode::WouldBlock, "blk: every device number is in use", MILK_BLK_MAX_DEVICES};
        return Error{ErrorCode::OutOfMemory, "blk: the block layer refused the disk", error};
    }
    return device;
}

Device::~Device() {
    if (m_disk != nullptr) milk_shim_blk_disk_destroy(m_disk);
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

int Device::request(milk_blk_op op, std::uint64_t offset, std::uint64_t bytes, void* request) {
    // The block layer keeps requests inside the disk's capacity; a request
    // outside it would be the block layer's bug or ours, and is refused
    // rather than trusted.
    const std::uint64_t size = m_blocks * m_block_size;
    const bool in_range = offset % sector_bytes == 0 && bytes % sector_bytes == 0 && offset <= size && bytes <= size - offset;
    MutexGuard guard(m_lock);
    int status = 0;
    switch (op) {
    case MILK_BLK_OP_READ:
    case MILK_BLK_OP_WRITE: {
        const bool write = op == MILK_BLK_OP_WRITE;
        if (!in_range) {
            status = -MILK_EINVAL;
            break;
        }
        Transfer transfer{&*m_service, write, offset, 0};
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
        if (!in_range) {
            status = -MILK_EINVAL;
            break;
        }
        auto discarded = m_service->discard(offset, bytes);
        if (!discarded.ok()) status = to_errno(discarded.error());
        break;
    }
    default: status = -MILK_EOPNOTSUPP; break;
    }
    if (status != 0) ++m_stats.errors;
    return status;
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
    // Refused like MILK_IOC_OPEN_CHANNEL refuses a component.
    const FoundComponent found = find_component(request.service);
    if (found.entry == nullptr) return -MILK_ENOENT;
    if (found.entry->create_direct_blk == nullptr) return -MILK_EPROTONOSUPPORT;
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
extern "C" int milk_core_blk_request(void* device, enum milk_blk_op op, unsigned long long offset,
                                     unsigned long long bytes, void* request) {
    return static_cast<milk::kernel::blk::Device*>(device)->request(op, offset, bytes, request);
}
