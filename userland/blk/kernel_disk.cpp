// milk::blk::KernelDisk (milk/blk/kernel_disk.hpp): a disk milk.ko
// registers, and the agent thread that brings its requests to a block
// service outside the module.
#include <milk/blk/kernel_disk.hpp>

#include "blk/blk_client.hpp"
#include "process_internal.hpp"

#include <milk/kernel.hpp>

#include "milk_uapi.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace milk::blk {
namespace {

using components::blk::BlkClient;
using components::blk::Request;
using components::blk::RequestKind;
using DeviceFd = milk::process::detail::FileDescriptor;

// How long one WAIT sleeps before the agent looks whether it must stop.
constexpr std::int64_t agent_poll_ns = 50'000'000;

Result<DeviceFd> create_disk(milk_blk_create& create, const KernelDiskOptions& options) {
    if (options.depth < 1 || options.depth > MILK_BLK_MAX_DEPTH)
        return Error{ErrorCode::InvalidArgument, "blk: a disk's depth must be 1 to 256", options.depth};
    create.depth = options.depth;
    DeviceFd fd(::open(options.device, O_RDWR | O_CLOEXEC));
    if (!fd.valid()) return Error{ErrorCode::SystemError, "blk: cannot open the milk device", errno};
    // ENOENT: no such component in the module; EPROTONOSUPPORT: it is no
    // block service; EINVAL: it refused its settings (the module's log
    // says why); ENOSPC: every disk number is in use.
    if (::ioctl(fd.get(), MILK_IOC_BLK_CREATE, &create) != 0)
        return Error{ErrorCode::SystemError, "blk: MILK_IOC_BLK_CREATE failed", errno};
    return fd;
}

std::uint32_t errno_of(BlkStatus status) {
    switch (status) {
    case BlkStatus::ok: return 0;
    case BlkStatus::out_of_range: return ENOSPC;
    default: return EIO;
    }
}

}  // namespace

// Between the module and a service outside it: reads the requests the
// module queued, sends them as one batch, ends each with its answer.
class KernelDisk::Agent {
public:
    Agent(int fd, BlkClient client, host::Host* host, std::string instance, KernelDiskOptions options)
        : m_fd(fd),
          m_blocks(client.device().blocks),
          m_block_size(client.device().block_size),
          m_client(std::move(client)),
          m_host(host),
          m_instance(std::move(instance)),
          m_options(options) {
        m_thread = std::thread([this] { run(); });
    }
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    ~Agent() {
        m_stop.store(true, std::memory_order_release);
        m_thread.join();
        if (m_client) (void)m_client->bye();
    }

    void fill(KernelDiskStats& stats) const {
        const std::lock_guard lock(m_mutex);
        stats.batches = m_batches;
        stats.failed_by_agent = m_failed;
        stats.replayed = m_replayed;
        stats.reconnects = m_reconnects;
        stats.service_error = m_service_error;
    }

private:
    void run() {
        std::vector<milk_blk_request> requests(m_options.depth);
        while (!m_stop.load(std::memory_order_acquire)) {
            milk_blk_wait wait{};
            wait.requests = reinterpret_cast<std::uintptr_t>(requests.data());
            wait.capacity = static_cast<std::uint32_t>(requests.size());
            wait.timeout_ns = agent_poll_ns;
            if (::ioctl(m_fd, MILK_IOC_BLK_WAIT, &wait) != 0) {
                if (errno == EINTR) continue;
                std::fprintf(stderr, "milk blk agent: MILK_IOC_BLK_WAIT failed (errno %d); the agent stops\n", errno);
                return;
            }
            if (wait.count == 0) continue;
            serve(std::span<const milk_blk_request>(requests.data(), wait.count));
        }
    }

    // One batch; on a broken channel, the recovery the options ask for.
    void serve(std::span<const milk_blk_request> requests) {
        std::vector<bool> ended(requests.size(), false);
        for (;;) {
            if (!m_client) {
                end_all(requests, ended, EIO);
                return;
            }
            auto served = send_batch(requests, ended);
            {
                const std::lock_guard lock(m_mutex);
                ++m_batches;
            }
            if (served.ok()) return;
            {
                const std::lock_guard lock(m_mutex);
                m_service_error = served.error();
            }
            m_client.reset();
            if (m_options.recovery == Recovery::Fail || m_host == nullptr || !reconnect()) {
                end_all(requests, ended, EIO);
                return;
            }
            std::size_t left = 0;
            for (const bool done : ended) left += done ? 0 : 1;
            const std::lock_guard lock(m_mutex);
            m_replayed += left;
        }
    }

    // The requests not ended yet, as one batch (tags: their places in
    // `requests`); each ended as its answer comes.
    Result<void> send_batch(std::span<const milk_blk_request> requests, std::vector<bool>& ended) {
        const std::uint32_t block_size = m_client->device().block_size;
        std::vector<Request> batch;
        std::vector<milk_blk_answer> answers;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (ended[i]) continue;
            const milk_blk_request& request = requests[i];
            const auto tag = static_cast<std::uint32_t>(i);
            // The disk's block size is the service's: the block layer sends
            // whole blocks. Anything else fails alone.
            if (request.offset % block_size != 0 || request.bytes % block_size != 0) {
                answers.push_back(milk_blk_answer{request.cookie, 0, EIO, 0});
                ended[i] = true;
                continue;
            }
            const std::uint64_t block = request.offset / block_size;
            const auto count = static_cast<std::uint32_t>(request.bytes / block_size);
            switch (request.op) {
            case MILK_BLK_READ: batch.push_back({RequestKind::read, tag, block, count, {}}); break;
            case MILK_BLK_WRITE: batch.push_back({RequestKind::write, tag, block, count, {}}); break;
            case MILK_BLK_FLUSH: batch.push_back({RequestKind::flush, tag, 0, 0, {}}); break;
            case MILK_BLK_DISCARD: batch.push_back({RequestKind::discard, tag, block, count, {}}); break;
            default:
                answers.push_back(milk_blk_answer{request.cookie, 0, EIO, 0});
                ended[i] = true;
                break;
            }
        }
        Result<void> sent{};
        if (!batch.empty()) {
            // A write's blocks: the module copies the request's pages
            // straight into the exchange-heap buffer of its Write.
            auto fill = [&](std::uint32_t tag, std::span<std::byte> into) -> Result<void> {
                milk_blk_answer take{requests[tag].cookie, reinterpret_cast<std::uintptr_t>(into.data()), 0, 0};
                milk_blk_answers one{reinterpret_cast<std::uintptr_t>(&take), 1, 0};
                if (::ioctl(m_fd, MILK_IOC_BLK_DATA, &one) != 0 || take.result != 0)
                    return Error{ErrorCode::SystemError, "blk: the module could not hand over a write's data",
                                 take.result != 0 ? take.result : errno};
                return {};
            };
            // A read's blocks go into the request's pages while the answer's
            // buffer is still there; the rest end together afterwards.
            auto done = [&](std::uint32_t tag, BlkStatus status, std::span<const std::byte> data) {
                ended[tag] = true;
                if (status == BlkStatus::ok && !data.empty()) {
                    milk_blk_answer read{requests[tag].cookie, reinterpret_cast<std::uintptr_t>(data.data()), 0, 0};
                    milk_blk_answers one{reinterpret_cast<std::uintptr_t>(&read), 1, 0};
                    (void)::ioctl(m_fd, MILK_IOC_BLK_COMPLETE, &one);
                    return;
                }
                answers.push_back(milk_blk_answer{requests[tag].cookie, 0, errno_of(status), 0});
            };
            const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(m_options.service_timeout);
            sent = m_client->submit(batch, timeout, done, fill);
        }
        complete(answers);
        return sent;
    }

    void complete(std::vector<milk_blk_answer>& answers) {
        if (answers.empty()) return;
        milk_blk_answers all{reinterpret_cast<std::uintptr_t>(answers.data()), static_cast<std::uint32_t>(answers.size()), 0};
        // ENOENT for one of them: the module ended it already (its deadline).
        (void)::ioctl(m_fd, MILK_IOC_BLK_COMPLETE, &all);
        answers.clear();
    }

    void end_all(std::span<const milk_blk_request> requests, std::vector<bool>& ended, std::uint32_t error) {
        std::vector<milk_blk_answer> answers;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (ended[i]) continue;
            answers.push_back(milk_blk_answer{requests[i].cookie, 0, error, 0});
            ended[i] = true;
        }
        {
            const std::lock_guard lock(m_mutex);
            m_failed += answers.size();
        }
        complete(answers);
    }

    // Replay: the instance again (the host restarts a process that died),
    // the same geometry, within reconnect_timeout.
    bool reconnect() {
        const auto give_up = std::chrono::steady_clock::now() + m_options.reconnect_timeout;
        const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(m_options.service_timeout);
        while (std::chrono::steady_clock::now() < give_up && !m_stop.load(std::memory_order_acquire)) {
            auto endpoint = m_host->connect<Blk::Contract>(m_instance);
            if (endpoint.ok()) {
                auto client = BlkClient::try_connect(std::move(endpoint).value(), m_options.depth, timeout);
                // The same disk: its size, block size and queue (a smaller
                // queue could not take the tags the disk's requests have).
                if (client.ok() && client.value().device().blocks == m_blocks &&
                    client.value().device().block_size == m_block_size &&
                    client.value().device().depth == m_options.depth) {
                    m_client.emplace(std::move(client).value());
                    const std::lock_guard lock(m_mutex);
                    ++m_reconnects;
                    return true;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    int m_fd;
    // The disk's geometry: a service reached again must have the same.
    std::uint64_t m_blocks;
    std::uint32_t m_block_size;
    std::optional<BlkClient> m_client;
    host::Host* m_host;
    std::string m_instance;
    KernelDiskOptions m_options;
    std::atomic<bool> m_stop{false};
    mutable std::mutex m_mutex;
    std::uint64_t m_batches = 0;
    std::uint64_t m_failed = 0;
    std::uint64_t m_replayed = 0;
    std::uint64_t m_reconnects = 0;
    std::optional<Error> m_service_error;
    std::thread m_thread;
};

KernelDisk::KernelDisk(int fd, std::uint32_t index, std::uint64_t blocks, std::uint32_t block_size,
                       std::unique_ptr<Agent> agent)
    : m_fd(fd), m_index(index), m_blocks(blocks), m_block_size(block_size), m_agent(std::move(agent)) {}

KernelDisk::~KernelDisk() {
    // The agent first: closing the fd then fails whatever it still held.
    m_agent.reset();
    if (m_fd >= 0) ::close(m_fd);
}

Result<std::unique_ptr<KernelDisk>> KernelDisk::try_create_in_kernel(std::string_view component, const Settings& settings,
                                                                     const KernelDiskOptions& options) {
    milk_blk_create create{};
    if (component.empty() || component.size() >= sizeof(create.service))
        return Error{ErrorCode::InvalidArgument, "blk: a component name of 1-31 bytes", 0};
    std::memcpy(create.service, component.data(), component.size());
    MILK_TRY(milk::kernel::to_settings_table(settings, create.settings));
    auto fd = MILK_TRY(create_disk(create, options));
    return std::unique_ptr<KernelDisk>(new KernelDisk(std::move(fd).take(), create.index, create.blocks, create.block_size, nullptr));
}

Result<std::unique_ptr<KernelDisk>> KernelDisk::try_create(host::Host& host, std::string_view instance,
                                                           const KernelDiskOptions& options) {
    const host::InstanceConfig* config = host.instance_config(instance);
    if (config == nullptr) return Error{ErrorCode::InvalidArgument, "blk: the host has no such instance", 0};
    if (config->placement == Placement::Kernel) return try_create_in_kernel(config->component, config->settings, options);
    return with_agent(MILK_TRY(host.connect<Blk::Contract>(instance)), &host, instance, options);
}

Result<std::unique_ptr<KernelDisk>> KernelDisk::try_create(Blk::Client<Blk::state::Start>&& endpoint,
                                                           const KernelDiskOptions& options) {
    return with_agent(std::move(endpoint), nullptr, {}, options);
}

Result<std::unique_ptr<KernelDisk>> KernelDisk::with_agent(Blk::Client<Blk::state::Start>&& endpoint, host::Host* host,
                                                           std::string_view instance, const KernelDiskOptions& options) {
    if (options.deadline.count() < 1 || options.deadline.count() > MILK_BLK_MAX_DEADLINE_MS)
        return Error{ErrorCode::InvalidArgument, "blk: the deadline must be 1 ms to 600 s",
                     static_cast<std::int64_t>(options.deadline.count())};
    const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(options.service_timeout);
    auto client = MILK_TRY(BlkClient::try_connect(std::move(endpoint), options.depth, timeout));
    // The disk is the service's: its size and block size, and at most the
    // queue the service took.
    milk_blk_create create{};
    create.blocks = client.device().blocks;
    create.block_size = client.device().block_size;
    create.deadline_ms = static_cast<std::uint32_t>(options.deadline.count());
    KernelDiskOptions agreed = options;
    agreed.depth = client.device().depth;
    auto fd = MILK_TRY(create_disk(create, agreed));
    const int raw = std::move(fd).take();
    auto agent = std::make_unique<Agent>(raw, std::move(client), host, std::string(instance), agreed);
    return std::unique_ptr<KernelDisk>(new KernelDisk(raw, create.index, create.blocks, create.block_size, std::move(agent)));
}

KernelDiskStats KernelDisk::stats() const {
    KernelDiskStats stats;
    milk_blk_stats module{};
    if (::ioctl(m_fd, MILK_IOC_BLK_STATS, &module) == 0) {
        stats.reads = module.reads;
        stats.writes = module.writes;
        stats.flushes = module.flushes;
        stats.discards = module.discards;
        stats.errors = module.errors;
        stats.timeouts = module.timeouts;
    }
    if (m_agent) m_agent->fill(stats);
    return stats;
}

}  // namespace milk::blk
