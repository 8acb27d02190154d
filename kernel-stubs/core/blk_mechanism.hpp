// The kernel block device (blk_mechanism.cpp): a blk-mq disk,
// /dev/milkblkN, whose requests a block service component
// (contracts/blk.contract's server) serves: one in the module, called
// directly, or one wherever the host placed it, reached by the disk's
// agent in user space. docs/blk.md, "The kernel device", says how it works;
// the ABI is MILK_IOC_BLK_* (include/milk_uapi.h).
#pragma once

#include "component.hpp"
#include "owned.hpp"

#include "milk_core.h"
#include "milk_uapi.h"

#include <milk/fixed_array.hpp>
#include <milk/result.hpp>

#include <atomic>
#include <cstdint>

namespace milk::kernel::blk {

// Where an agent's request is. Types of their own for the FixedArrays
// below: two core objects instantiating FixedArray<T>::try_create for one
// T break the core's relocatable link (mem_mechanism.hpp's Number says so).
enum class SlotState : std::uint8_t {
    Free,       // no request of this tag
    Queued,     // for the agent, not read yet
    WithAgent,  // read by MILK_IOC_BLK_WAIT, not ended
    Copying,    // its data crossing to or from user memory, without the lock
};

struct Slot {
    void* request = nullptr;  // the shim's struct request
    SlotState state = SlotState::Free;
    milk_blk_request seen{};  // what WAIT hands the agent (its cookie among it)
};

// A queued request for the agent: its cookie (a stale one, of a request
// that timed out meanwhile, is skipped).
struct QueuedCookie {
    std::uint64_t value;
};

class Device {
public:
    // MILK_IOC_BLK_CREATE's request, already copied in. The disk exists
    // (and takes requests) when this returns.
    [[nodiscard]] static Result<Owned<Device>> try_create(const milk_blk_create& request);
    // Fails every request still with the agent, then deletes the disk: no
    // request runs once it is gone.
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    [[nodiscard]] std::uint64_t blocks() const { return m_blocks; }
    [[nodiscard]] std::uint32_t block_size() const { return m_block_size; }
    [[nodiscard]] std::uint32_t index() const { return m_index; }
    [[nodiscard]] bool has_agent() const { return !m_service; }

    // The disk's queue_rq and timeout handler (milk_core.h).
    [[nodiscard]] int request(milk_blk_op op, std::uint32_t tag, std::uint64_t offset, std::uint64_t bytes, void* request);
    [[nodiscard]] milk_blk_timeout timeout(std::uint32_t tag);

    [[nodiscard]] long ioctl_stats(unsigned long argument) const;
    // The agent's, without the file's mutex.
    [[nodiscard]] long ioctl_wait(unsigned long argument);
    [[nodiscard]] long ioctl_answers(unsigned long argument, bool complete);

    // For the agent's wait (read without the lock).
    [[nodiscard]] bool agent_has_work() const { return m_queued.load(std::memory_order_acquire) != 0; }

    Device() = default;

private:
    // A read's or write's segments, one by one, under m_lock.
    static int transfer_segment(void* context, void* data, unsigned int bytes);
    [[nodiscard]] int serve_directly(milk_blk_op op, std::uint64_t offset, std::uint64_t bytes, void* request);
    [[nodiscard]] int queue_for_agent(milk_blk_op op, std::uint32_t tag, std::uint64_t offset, std::uint64_t bytes,
                                      void* request);
    // One DATA or COMPLETE answer: its result (0 or an errno).
    [[nodiscard]] std::uint32_t answer(const milk_blk_answer& answer, bool complete);
    // Under m_lock: the slot `cookie` names when the agent holds it, else null.
    [[nodiscard]] Slot* agent_slot(std::uint64_t cookie);
    // Under m_lock: takes `cookie` out of the queue (a request that timed out before WAIT read it).
    void unqueue(std::uint64_t cookie);

    Owned<DirectBlkService> m_service;  // null: the agent's disk
    void* m_lock = nullptr;             // the books, and the calls into a service
    void* m_disk = nullptr;             // the shim's disk; deleted first
    void* m_agent_queue = nullptr;      // where the agent's WAIT sleeps
    std::uint64_t m_blocks = 0;
    std::uint32_t m_block_size = 0;
    std::uint32_t m_index = 0;
    std::uint32_t m_depth = 0;
    milk_blk_stats m_stats{};  // under m_lock

    // The agent's books, under m_lock: each tag's request, the queue of
    // cookies WAIT has not handed out (a ring of m_depth), the next cookie.
    FixedArray<Slot> m_slots;
    FixedArray<QueuedCookie> m_queue;
    std::uint32_t m_queue_head = 0;
    std::atomic<std::uint32_t> m_queued{0};
    std::uint64_t m_sequence = 0;
    bool m_dead = false;  // the fd is going: every request fails
};

// MILK_IOC_BLK_CREATE: the device in `created`, or an errno.
[[nodiscard]] long create(unsigned long argument, Owned<Device>& created);

}  // namespace milk::kernel::blk
