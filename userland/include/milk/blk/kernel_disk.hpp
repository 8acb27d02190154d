// milk::blk::KernelDisk: a real block device, /dev/milkblkN, registered by
// milk.ko (docs/blk.md, "The kernel device"), whose requests a block
// service component serves wherever the host placed it:
// - in milk.ko (placement "kernel"): the disk calls the service directly;
//   no channel, no thread in this process;
// - anywhere else: this class's agent thread reads the disk's requests
//   (MILK_IOC_BLK_WAIT), sends them to the service over the host's channel
//   as one batch (contracts/blk.contract), a write's data copied by the
//   module straight into the channel's exchange heap (MILK_IOC_BLK_DATA),
//   and ends each request with the service's answer, a read's blocks
//   copied from the exchange heap into the request's pages
//   (MILK_IOC_BLK_COMPLETE).
//
//   auto disk = milk::blk::KernelDisk::try_create(host, "disk", {}).value();
//   // mkfs.ext4 disk->path(), mount it, ...
//
// When the service's channel breaks (its process died, it missed its
// deadline, it broke the contract), `recovery` says what becomes of the
// requests it held, as ublk's recovery modes do: Fail ends them with an
// I/O error (and every later request, until the disk goes); Replay connects
// to the instance again (the host restarts a process instance whose
// `restart` allows it) and sends them again. When the agent itself stalls,
// the module fails a request after `deadline`. The kernel never waits on
// user space without a bound.
#pragma once

#include "blk.hpp"  // generated from contracts/blk.contract

#include <milk/host/host.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace milk::blk {

enum class Recovery : std::uint8_t {
    Fail,    // requests in flight (and later ones) fail with EIO
    Replay,  // connect again and send the requests in flight again
};

struct KernelDiskOptions {
    // Requests in flight at once (1 to 256), and the queue asked of the service.
    std::uint32_t depth = 32;
    // The module's bound on one request with the agent (1 ms to 600 s).
    std::chrono::milliseconds deadline{10'000};
    // The agent's bound on the service's answer to a batch.
    std::chrono::milliseconds service_timeout{5'000};
    Recovery recovery = Recovery::Fail;
    // Replay: how long to keep trying to reach the instance again.
    std::chrono::milliseconds reconnect_timeout{5'000};
    const char* device = "/dev/milk";
};

struct KernelDiskStats {
    // The module's counts (every request the block layer sent the disk).
    std::uint64_t reads = 0;
    std::uint64_t writes = 0;
    std::uint64_t flushes = 0;
    std::uint64_t discards = 0;
    std::uint64_t errors = 0;
    std::uint64_t timeouts = 0;
    // The agent's (zero when the service is in milk.ko).
    std::uint64_t batches = 0;
    std::uint64_t failed_by_agent = 0;  // requests ended with EIO because the service was lost
    std::uint64_t replayed = 0;         // requests sent again after a reconnect
    std::uint64_t reconnects = 0;
    std::optional<Error> service_error;  // why the service's channel last broke
};

class KernelDisk {
public:
    // The block service instance `instance` of the host, placed by its config.
    [[nodiscard]] static Result<std::unique_ptr<KernelDisk>> try_create(host::Host& host, std::string_view instance,
                                                                      const KernelDiskOptions& options);
    // The service at the other end of `endpoint` (any placement, or a
    // test's own), through this process's agent; Replay cannot reconnect
    // without a host, so a broken channel fails the requests.
    [[nodiscard]] static Result<std::unique_ptr<KernelDisk>> try_create(Blk::Client<Blk::state::Start>&& endpoint,
                                                                      const KernelDiskOptions& options);
    // The block service `component` compiled into milk.ko, built from
    // `settings`, called by the disk directly.
    [[nodiscard]] static Result<std::unique_ptr<KernelDisk>> try_create_in_kernel(std::string_view component,
                                                                                const Settings& settings,
                                                                                const KernelDiskOptions& options);

    KernelDisk(const KernelDisk&) = delete;
    KernelDisk& operator=(const KernelDisk&) = delete;
    // Stops the agent, says Bye, and deletes the disk (a file system still
    // mounted on it sees I/O errors from then on).
    ~KernelDisk();

    // "/dev/milkblkN".
    [[nodiscard]] std::string path() const { return "/dev/milkblk" + std::to_string(m_index); }
    [[nodiscard]] std::uint32_t index() const { return m_index; }
    [[nodiscard]] std::uint64_t blocks() const { return m_blocks; }
    [[nodiscard]] std::uint32_t block_size() const { return m_block_size; }
    [[nodiscard]] bool service_in_kernel() const { return m_agent == nullptr; }
    [[nodiscard]] KernelDiskStats stats() const;

    class Agent;

private:
    KernelDisk(int fd, std::uint32_t index, std::uint64_t blocks, std::uint32_t block_size, std::unique_ptr<Agent> agent);
    [[nodiscard]] static Result<std::unique_ptr<KernelDisk>> with_agent(Blk::Client<Blk::state::Start>&& endpoint,
                                                                      host::Host* host, std::string_view instance,
                                                                      const KernelDiskOptions& options);

    int m_fd = -1;
    std::uint32_t m_index = 0;
    std::uint64_t m_blocks = 0;
    std::uint32_t m_block_size = 0;
    std::unique_ptr<Agent> m_agent;
};

}  // namespace milk::blk
