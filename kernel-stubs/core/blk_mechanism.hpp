// The kernel block device (blk_mechanism.cpp): a blk-mq disk,
// /dev/milkblkN, whose requests a block service component
// (contracts/blk.contract's server) serves. docs/blk.md, "The kernel
// device", says how it works; the ABI is MILK_IOC_BLK_* (include/milk_uapi.h).
#pragma once

#include "component.hpp"
#include "owned.hpp"

#include "milk_core.h"
#include "milk_uapi.h"

#include <milk/result.hpp>

#include <cstdint>

namespace milk::kernel::blk {

class Device {
public:
    // MILK_IOC_BLK_CREATE's request, already copied in. The disk exists
    // (and takes requests) when this returns.
    [[nodiscard]] static Result<Owned<Device>> try_create(const milk_blk_create& request);
    // Deletes the disk first: no request runs once it is gone.
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    [[nodiscard]] std::uint64_t blocks() const { return m_blocks; }
    [[nodiscard]] std::uint32_t block_size() const { return m_block_size; }
    [[nodiscard]] std::uint32_t index() const { return m_index; }

    // One request of the block layer (milk_core_blk_request): 0 or -errno.
    [[nodiscard]] int request(milk_blk_op op, std::uint64_t offset, std::uint64_t bytes, void* request);

    [[nodiscard]] long ioctl_stats(unsigned long argument) const;

    Device() = default;

private:
    // A read's or write's segments, one by one, under m_lock.
    static int transfer_segment(void* context, void* data, unsigned int bytes);

    Owned<DirectBlkService> m_service;
    void* m_lock = nullptr;  // serialises the calls into the service
    void* m_disk = nullptr;  // the shim's disk; deleted first
    std::uint64_t m_blocks = 0;
    std::uint32_t m_block_size = 0;
    std::uint32_t m_index = 0;
    milk_blk_stats m_stats{};  // under m_lock
};

// MILK_IOC_BLK_CREATE: the device in `created`, or an errno.
[[nodiscard]] long create(unsigned long argument, Owned<Device>& created);

}  // namespace milk::kernel::blk
