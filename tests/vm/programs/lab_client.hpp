// The user side of milk.ko's messaging lab (kernel-stubs/include/
// milk_lab_uapi.h): one client per kernel <-> user mechanism, each sending
// 64-byte requests and taking their answers. The VM test
// (messaging_test.cpp) runs each once and checks the answers; the benchmark
// (bench/kernel_bench.cpp) times them beside milk's channels.
//
// Every client checks each answer it takes (words[0] + 1, the rest
// unchanged), so the benchmark cannot time a mechanism that does not work.
#pragma once

#include "milk_lab_uapi.h"

#include <liburing.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <thread>

namespace milk::vm::lab {

using Message = milk_lab_message;

// Request `seq`: words[0] = seq, the others a pattern derived from it.
[[nodiscard]] Message request(std::uint64_t seq);
// Whether `reply` is the answer to `sent`.
[[nodiscard]] bool is_answer(const Message& sent, const Message& reply);

// /dev/milk-lab, opened once per client.
class Device {
public:
    Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;
    ~Device();
    [[nodiscard]] int fd() const { return m_fd; }

private:
    int m_fd = -1;
};

// MILK_LAB_IOC_ECHO: one ioctl per round trip, the message copied both ways.
[[nodiscard]] bool ioctl_round_trip(const Device& device, std::uint64_t seq);
// write() then read() of 64 bytes: two system calls per round trip.
[[nodiscard]] bool read_write_round_trip(const Device& device, std::uint64_t seq);

// io_uring over /dev/milk-lab: NOPs, and URING_CMD echoes in batches.
class Uring {
public:
    enum class Polling : std::uint8_t { Off, SqPoll };
    Uring(const Device& device, Polling polling);
    Uring(const Uring&) = delete;
    Uring& operator=(const Uring&) = delete;
    ~Uring();

    // `count` NOPs in one submission, all completions reaped.
    [[nodiscard]] bool nops(std::uint32_t count);
    // `count` echoes (at most 32) in one submission, all answers checked.
    [[nodiscard]] bool echoes(std::uint64_t first_seq, std::uint32_t count);

private:
    [[nodiscard]] bool submit(std::uint32_t count);
    [[nodiscard]] bool reap(std::uint32_t count, int expected_result);

    io_uring m_ring{};
    int m_fd;
    Polling m_polling;
    Message m_messages[MILK_LAB_BATCH_MAX]{};
};

// The eventfd mechanism: requests in a page shared with the kernel, an
// ioctl to kick its thread, an eventfd it signals when the answers are in.
class EventfdChannel {
public:
    explicit EventfdChannel(const Device& device);
    EventfdChannel(const EventfdChannel&) = delete;
    EventfdChannel& operator=(const EventfdChannel&) = delete;
    ~EventfdChannel();

    // `count` (at most 32) requests per kick, the eventfd read once.
    [[nodiscard]] bool round_trips(std::uint64_t first_seq, std::uint32_t count);

private:
    int m_fd;
    int m_eventfd = -1;
    milk_lab_shared* m_shared = nullptr;
};

// Generic netlink: the milk_lab family's ECHO command over a raw socket.
class Netlink {
public:
    Netlink();
    Netlink(const Netlink&) = delete;
    Netlink& operator=(const Netlink&) = delete;
    ~Netlink();

    [[nodiscard]] bool round_trip(std::uint64_t seq);

private:
    int m_socket = -1;
    std::uint16_t m_family = 0;
    std::uint32_t m_sequence = 1;
};

// userfaultfd: a page of a registered region faulted by this thread and
// resolved by a handler thread with UFFDIO_COPY (the page it copies carries
// the fault's number), then dropped again for the next fault.
class FaultChannel {
public:
    FaultChannel();
    FaultChannel(const FaultChannel&) = delete;
    FaultChannel& operator=(const FaultChannel&) = delete;
    ~FaultChannel();

    // One fault round trip: touch, wait for the handler's page, check it.
    [[nodiscard]] bool round_trip(std::uint64_t seq);

private:
    void handle();

    int m_uffd = -1;
    int m_stop = -1;  // an eventfd that ends the handler
    std::byte* m_page = nullptr;
    std::size_t m_page_bytes = 0;
    std::atomic<std::uint64_t> m_next_value{0};  // what the handler copies in next (set before each touch)
    std::thread m_handler;
};

}  // namespace milk::vm::lab
