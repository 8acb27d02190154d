// milk::mem::KernelRegion (milk/mem/kernel_region.hpp): a region whose
// faults milk.ko's own fault handler serves, and the agent thread that
// brings them to a policy outside the module.
#include <milk/mem/kernel_region.hpp>

#include "mem/mem_client.hpp"
#include "process_internal.hpp"

#include <milk/kernel.hpp>

#include "milk_uapi.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace milk::mem {
namespace {

using components::mem::MemClient;
using DeviceFd = milk::process::detail::FileDescriptor;

constexpr auto agent_poll = std::chrono::milliseconds(50);

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

FallbackReason reason_of(const Error& error) {
    if (error.code == ErrorCode::TimedOut) return FallbackReason::MissedDeadline;
    if (error.code == ErrorCode::ProtocolViolation) return FallbackReason::BrokeContract;
    return FallbackReason::PolicyGone;
}

// Creates the region on a fresh /dev/milk fd and maps it.
Result<std::pair<DeviceFd, std::byte*>> create_region(milk_mem_create& create, const KernelRegionOptions& options) {
    if (options.pages < 2 || options.frames < 1 || options.frames >= options.pages)
        return Error{ErrorCode::InvalidArgument, "mem: a kernel region needs fewer frames than pages, and some", options.frames};
    if (options.deadline.count() < 1 || options.deadline.count() > MILK_MEM_MAX_DEADLINE_MS)
        return Error{ErrorCode::InvalidArgument, "mem: the deadline must be 1 ms to 60 s",
                     static_cast<std::int64_t>(options.deadline.count())};
    create.pages = options.pages;
    create.frames = options.frames;
    create.deadline_ms = static_cast<std::uint32_t>(options.deadline.count());
    DeviceFd fd(::open(options.device, O_RDWR | O_CLOEXEC));
    if (!fd.valid()) return Error{ErrorCode::SystemError, "mem: cannot open the milk device", errno};
    // ENOENT: no such component in the module; EPROTONOSUPPORT: it is no
    // memory manager; EINVAL: it refused its settings or the region (the
    // module's log says why); ENOMEM: no room for the frames.
    if (::ioctl(fd.get(), MILK_IOC_MEM_CREATE, &create) != 0)
        return Error{ErrorCode::SystemError, "mem: MILK_IOC_MEM_CREATE failed", errno};
    void* base = ::mmap(nullptr, create.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (base == MAP_FAILED) return Error{ErrorCode::SystemError, "mem: mmap of the region failed", errno};
    return std::pair<DeviceFd, std::byte*>{std::move(fd), static_cast<std::byte*>(base)};
}

}  // namespace

// Between the module and a policy outside it: reads the faults the module
// queued, commits them as one batch, applies the answer.
class KernelRegion::Agent {
public:
    Agent(int fd, MemClient client, KernelRegionOptions options)
        : m_fd(fd), m_client(std::move(client)), m_options(options) {
        m_thread = std::thread([this] { run(); });
    }
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    ~Agent() {
        m_stopping.store(true, std::memory_order_release);
        m_thread.join();
        if (m_client) static_cast<void>(m_client->bye());
    }

    void fill(KernelRegionStats& stats) const {
        const std::lock_guard lock(m_mutex);
        stats.batches = m_batches;
        stats.agent_reason = m_reason;
        stats.agent_error = m_error;
    }

private:
    void run() {
        std::vector<milk_mem_event> events(MILK_MEM_MAX_WAIT);
        std::vector<milk_mem_decision> applied;
        while (!m_stopping.load(std::memory_order_acquire) && m_client) {
            milk_mem_wait wait{};
            wait.events = reinterpret_cast<std::uintptr_t>(events.data());
            wait.capacity = MILK_MEM_MAX_WAIT;
            wait.timeout_ns = std::chrono::nanoseconds(agent_poll).count();
            if (::ioctl(m_fd, MILK_IOC_MEM_WAIT, &wait) != 0) {
                if (errno == EINTR) continue;
                // EPIPE: the module fell back on its own (a fault waited
                // past the deadline); the policy has nothing left to do.
                m_client.reset();
                return;
            }
            if (wait.count == 0) continue;
            for (std::uint32_t i = 0; i < wait.count; ++i) {
                auto reported = m_client->report({EventKind::fault, events[i].page, events[i].write != 0 ? 1u : 0u});
                if (!reported.ok()) return fall_back(reported.error());
            }
            auto answer = m_client->commit(now_ns(), m_options.policy_deadline);
            if (!answer.ok()) return fall_back(answer.error());
            applied.clear();
            for (const Decision& decision : answer.value())
                applied.push_back({static_cast<std::uint32_t>(decision.kind), decision.page, decision.frame, 0});
            {
                const std::lock_guard lock(m_mutex);
                ++m_batches;
            }
            // The module applies them in order (in batches of what it takes
            // at once) and drops the policy itself at the first it refuses.
            for (std::size_t first = 0; first < applied.size(); first += MILK_MEM_MAX_APPLY) {
                milk_mem_apply apply{};
                apply.decisions = reinterpret_cast<std::uintptr_t>(applied.data() + first);
                apply.count = static_cast<std::uint32_t>(std::min<std::size_t>(MILK_MEM_MAX_APPLY, applied.size() - first));
                if (::ioctl(m_fd, MILK_IOC_MEM_APPLY, &apply) != 0 || apply.refused != 0) {
                    const std::lock_guard lock(m_mutex);
                    m_reason = FallbackReason::BrokeContract;
                    m_error = Error{ErrorCode::ProtocolViolation, "mem: the module refused a decision", errno};
                    m_client.reset();
                    return;
                }
            }
        }
    }

    void fall_back(const Error& error) {
        {
            const std::lock_guard lock(m_mutex);
            m_reason = reason_of(error);
            m_error = error;
        }
        m_client.reset();
        static_cast<void>(::ioctl(m_fd, MILK_IOC_MEM_FALLBACK, 0));
    }

    int m_fd;
    std::optional<MemClient> m_client;
    KernelRegionOptions m_options;
    std::atomic<bool> m_stopping{false};
    mutable std::mutex m_mutex;
    std::uint64_t m_batches = 0;
    FallbackReason m_reason = FallbackReason::None;
    std::optional<Error> m_error;
    std::thread m_thread;
};

KernelRegion::KernelRegion(int fd, std::byte* base, std::size_t bytes, std::unique_ptr<Agent> agent)
    : m_fd(fd), m_base(base), m_bytes(bytes), m_agent(std::move(agent)) {}

KernelRegion::~KernelRegion() {
    m_agent.reset();
    ::munmap(m_base, m_bytes);
    ::close(m_fd);
}

Result<std::unique_ptr<KernelRegion>> KernelRegion::try_create(MemEndpoint&& endpoint, const KernelRegionOptions& options) {
    milk_mem_create create{};
    auto [fd, base] = MILK_TRY(create_region(create, options));
    const std::size_t bytes = create.region_bytes;
    auto client = MemClient::try_connect(std::move(endpoint), {options.pages, options.frames}, options.policy_deadline,
                                         MILK_MEM_MAX_WAIT);
    if (!client.ok()) {
        ::munmap(base, bytes);
        return client.error();
    }
    const int raw = std::move(fd).take();
    auto agent = std::make_unique<Agent>(raw, std::move(client).value(), options);
    return std::unique_ptr<KernelRegion>(new KernelRegion(raw, base, bytes, std::move(agent)));
}

Result<std::unique_ptr<KernelRegion>> KernelRegion::try_create_in_kernel(std::string_view component,
                                                                       const Settings& settings,
                                                                       const KernelRegionOptions& options) {
    milk_mem_create create{};
    if (component.empty() || component.size() >= sizeof create.policy)
        return Error{ErrorCode::InvalidArgument, "mem: a component name empty or too long",
                     static_cast<std::int64_t>(component.size())};
    std::memcpy(create.policy, component.data(), component.size());
    MILK_TRY(milk::kernel::to_settings_table(settings, create.settings));
    auto [fd, base] = MILK_TRY(create_region(create, options));
    return std::unique_ptr<KernelRegion>(new KernelRegion(std::move(fd).take(), base, create.region_bytes, nullptr));
}

Result<std::unique_ptr<KernelRegion>> KernelRegion::try_create(host::Host& host, std::string_view instance,
                                                             const KernelRegionOptions& options) {
    const host::InstanceConfig* config = host.instance_config(instance);
    if (config == nullptr) return Error{ErrorCode::InvalidArgument, "mem: the host has no such instance", 0};
    if (config->placement == Placement::Kernel) return try_create_in_kernel(config->component, config->settings, options);
    auto endpoint = MILK_TRY(host.connect<Mem::Contract>(instance));
    return try_create(std::move(endpoint), options);
}

KernelRegionStats KernelRegion::stats() const {
    KernelRegionStats stats;
    milk_mem_stats module{};
    if (::ioctl(m_fd, MILK_IOC_MEM_STATS, &module) == 0) {
        stats.faults = module.faults;
        stats.evictions = module.evictions;
        stats.maps = module.maps;
        stats.prefetches = module.prefetches;
        stats.resident = module.resident;
        switch (module.fallback) {
        case MILK_MEM_FALLBACK_DEADLINE: stats.fallback = KernelFallback::Deadline; break;
        case MILK_MEM_FALLBACK_ASKED: stats.fallback = KernelFallback::Asked; break;
        case MILK_MEM_FALLBACK_POLICY: stats.fallback = KernelFallback::Policy; break;
        default: stats.fallback = KernelFallback::None; break;
        }
    }
    if (m_agent) m_agent->fill(stats);
    return stats;
}

}  // namespace milk::mem
