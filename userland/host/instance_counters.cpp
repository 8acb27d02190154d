#include "instance_counters.hpp"

#include <milk/transport.hpp>

#include <cerrno>
#include <new>
#include <ctime>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace milk::host::detail {
namespace {

constexpr std::size_t page_bytes = 4096;
// The counters' page, then the trace ring (touched only while tracing).
constexpr std::size_t mapping_bytes = page_bytes + 1024 * 1024;

enum class Mapping : std::uint8_t { Create, Attach };

Result<InstanceCounters*> map_page(int fd, Mapping mapping) {
    void* memory = ::mmap(nullptr, mapping_bytes, PROT_READ | PROT_WRITE,
                          fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS, fd, 0);
    if (memory == MAP_FAILED) return Error{ErrorCode::SystemError, "mapping an instance's counters failed", errno};
    // The host's new page: placement new begins the atomics' lifetimes (it
    // writes zeros, which a fresh page holds already). A runner attaches to
    // a page the host made and may have counted in for a while (a runner
    // started by a move, or a restart): constructing it again would zero
    // the counts and the tracing flag, so it only takes the object there.
    if (mapping == Mapping::Create) return new (memory) InstanceCounters;
    return std::launder(static_cast<InstanceCounters*>(memory));
}

// The component's end with a counter: one virtual call more per operation,
// and a plain load and store of a counter no other thread writes.
class CountingTransport final : public Transport {
public:
    CountingTransport(std::unique_ptr<Transport> inner, std::shared_ptr<const CounterPage> page,
                      const session::StateMachine& machine, std::uint64_t channel)
        : m_inner(std::move(inner)), m_page(std::move(page)), m_machine(&machine), m_state(machine.initial) {
        InstanceCounters& counters = m_page->counters();
        counters.channels_opened.fetch_add(1, std::memory_order_relaxed);
        for (ChannelCounter& slot : counters.channels) {
            std::uint32_t free = 0;
            if (slot.in_use.compare_exchange_strong(free, 1, std::memory_order_acq_rel)) {
                slot.state.store(m_state, std::memory_order_relaxed);
                slot.channel.store(channel, std::memory_order_relaxed);
                slot.owner.store(static_cast<std::int32_t>(::getpid()), std::memory_order_relaxed);
                m_slot = &slot;
                // A trace's track: the host's name for the channel, or its
                // slot (a channel that never moves has no name).
                m_channel = channel != 0 ? channel : 1'000'000 + static_cast<std::uint64_t>(&slot - counters.channels);
                break;
            }
        }
    }
    ~CountingTransport() override { retire(); }

    // The component is the server: what it sends goes in the contract's
    // `recv` direction, what it receives in `send`.
    Result<void> send(const Slot& slot) override {
        auto sent = m_inner->send(slot);
        if (sent.ok()) {
            follow(session::Direction::Recv, slot.tag);
            count(1);
        }
        return sent;
    }
    Result<void> send_batch(std::span<const Slot> slots) override {
        auto sent = m_inner->send_batch(slots);
        if (sent.ok()) {
            for (const Slot& slot : slots) follow(session::Direction::Recv, slot.tag);
            count(slots.size());
        }
        return sent;
    }
    Result<Slot> receive(Deadline deadline) override {
        if (!tracing()) [[likely]] {
            auto received = m_inner->receive(deadline);
            if (received.ok()) {
                follow(session::Direction::Send, received.value().tag);
                count(1);
            }
            return received;
        }
        // Tracing: a receive that had to sleep shows as a wait.
        const std::uint64_t began = now_ns();
        auto received = m_inner->receive(deadline);
        const std::uint64_t ended = now_ns();
        if (ended - began >= wait_worth_tracing_ns)
            record(TraceKind::Wait, 0, session::Direction::Send, ended, ended - began, m_state);
        if (received.ok()) {
            follow(session::Direction::Send, received.value().tag);
            count(1);
        }
        return received;
    }
    Result<void> wait_for_room(std::size_t slots, Deadline deadline) override {
        return m_inner->wait_for_room(slots, deadline);
    }
    Result<Buffer> allocate(std::size_t size) override { return m_inner->allocate(size); }
    Result<WireBytes> export_buffer(Buffer&& buffer) override { return m_inner->export_buffer(std::move(buffer)); }
    Result<Buffer> import_buffer(WireBytes wire) override { return m_inner->import_buffer(wire); }
    void close(const Error* reason) noexcept override {
        m_inner->close(reason);
        retire();
    }
    Result<bool> wait_receivable(const std::atomic<bool>& interrupt) override {
        return m_inner->wait_receivable(interrupt);
    }
    void wake_receiver() noexcept override { m_inner->wake_receiver(); }
    Result<std::size_t> unreceived(std::span<Slot> out) override { return m_inner->unreceived(out); }

private:
    // Steps the channel's state. A message its state does not allow (the
    // component's decoder then rejects it and the channel closes) leaves the
    // state invalid, shown as "?".
    void follow(session::Direction direction, std::uint16_t tag) {
        const session::StateMachine::State before = m_state;
        if (m_state != session::StateMachine::invalid) {
            m_state = m_machine->step(m_state, direction, tag);
            if (m_slot != nullptr) m_slot->state.store(m_state, std::memory_order_relaxed);
        }
        if (tracing()) [[unlikely]]
            record(TraceKind::Message, tag, direction, now_ns(), 0, before);
    }
    [[nodiscard]] bool tracing() const {
        return m_page->counters().tracing.load(std::memory_order_relaxed) != 0;
    }
    static std::uint64_t now_ns() {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(now.tv_nsec);
    }
    void record(TraceKind kind, std::uint16_t tag, session::Direction direction, std::uint64_t time,
                std::uint64_t duration, session::StateMachine::State before) {
        TraceRing& ring = m_page->trace();
        const std::uint64_t index = ring.next.fetch_add(1, std::memory_order_relaxed);
        if (index >= TraceRing::capacity) return;
        TraceRecord& slot = ring.records[index];
        slot.time_ns = time;
        slot.channel = m_channel;
        slot.duration_ns = static_cast<std::uint32_t>(duration > 0xffffffffu ? 0xffffffffu : duration);
        slot.tag = tag;
        slot.state_before = before;
        slot.state_after = m_state;
        slot.direction = static_cast<std::uint8_t>(direction);
        slot.kind.store(static_cast<std::uint8_t>(kind), std::memory_order_release);
    }
    // Shorter waits are a spin that found the message: not worth an event.
    static constexpr std::uint64_t wait_worth_tracing_ns = 20'000;
    void count(std::uint64_t messages) {
        if (m_slot != nullptr) {
            // Only this channel's thread writes its slot: no locked add.
            m_slot->messages.store(m_slot->messages.load(std::memory_order_relaxed) + messages,
                                   std::memory_order_relaxed);
        } else {
            m_page->counters().retired.fetch_add(messages, std::memory_order_relaxed);
        }
    }
    void retire() noexcept {
        if (m_retired) return;
        m_retired = true;
        InstanceCounters& counters = m_page->counters();
        if (m_slot != nullptr) {
            counters.retired.fetch_add(m_slot->messages.load(std::memory_order_relaxed), std::memory_order_relaxed);
            m_slot->messages.store(0, std::memory_order_relaxed);
            m_slot->in_use.store(0, std::memory_order_release);
            m_slot = nullptr;
        }
        counters.channels_closed.fetch_add(1, std::memory_order_relaxed);
    }

    std::unique_ptr<Transport> m_inner;
    std::shared_ptr<const CounterPage> m_page;
    const session::StateMachine* m_machine;
    session::StateMachine::State m_state;
    ChannelCounter* m_slot = nullptr;
    std::uint64_t m_channel = 0;
    bool m_retired = false;
};

}  // namespace

Result<CounterPage> CounterPage::try_create_private() {
    InstanceCounters* counters = MILK_TRY(map_page(-1, Mapping::Create));
    return CounterPage(counters, -1);
}

Result<CounterPage> CounterPage::try_create_shared() {
    const int fd = ::memfd_create("milk-instance-counters", MFD_CLOEXEC);
    if (fd < 0) return Error{ErrorCode::SystemError, "memfd_create for an instance's counters failed", errno};
    if (::ftruncate(fd, mapping_bytes) != 0) {
        const int error = errno;
        ::close(fd);
        return Error{ErrorCode::SystemError, "sizing an instance's counters failed", error};
    }
    auto counters = map_page(fd, Mapping::Create);
    if (!counters.ok()) {
        ::close(fd);
        return counters.error();
    }
    return CounterPage(counters.value(), fd);
}

Result<CounterPage> CounterPage::try_map(int fd) {
    InstanceCounters* counters = MILK_TRY(map_page(fd, Mapping::Attach));
    return CounterPage(counters, -1);
}

CounterPage::CounterPage(CounterPage&& other) noexcept
    : m_counters(std::exchange(other.m_counters, nullptr)), m_fd(std::exchange(other.m_fd, -1)) {}

CounterPage& CounterPage::operator=(CounterPage&& other) noexcept {
    if (this != &other) {
        this->~CounterPage();
        m_counters = std::exchange(other.m_counters, nullptr);
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

CounterPage::~CounterPage() {
    if (m_counters != nullptr) ::munmap(m_counters, mapping_bytes);
    if (m_fd >= 0) ::close(m_fd);
}

CounterPage::Totals CounterPage::totals() const {
    const InstanceCounters& counters = *m_counters;
    Totals totals;
    const std::uint64_t opened = counters.channels_opened.load(std::memory_order_relaxed);
    const std::uint64_t closed = counters.channels_closed.load(std::memory_order_relaxed);
    totals.channels_opened = opened;
    totals.channels_open = opened >= closed ? opened - closed : 0;
    totals.messages = counters.retired.load(std::memory_order_relaxed);
    for (const ChannelCounter& slot : counters.channels) {
        if (slot.in_use.load(std::memory_order_acquire) == 0) continue;
        const std::uint64_t messages = slot.messages.load(std::memory_order_relaxed);
        totals.messages += messages;
        totals.channels.push_back(Totals::Channel{messages, slot.state.load(std::memory_order_relaxed)});
    }
    return totals;
}

ChannelEnd counted(ChannelEnd&& end, std::shared_ptr<const CounterPage> page, const session::StateMachine& machine,
                   std::uint64_t channel) {
    return ChannelEnd(
        std::make_unique<CountingTransport>(std::move(end).release_transport(), std::move(page), machine, channel));
}

TraceRing& CounterPage::trace() const {
    return *reinterpret_cast<TraceRing*>(reinterpret_cast<std::byte*>(m_counters) + page_bytes);
}

void CounterPage::start_trace() const {
    TraceRing& ring = trace();
    for (TraceRecord& record : ring.records) record.kind.store(0, std::memory_order_relaxed);
    ring.next.store(0, std::memory_order_relaxed);
    m_counters->tracing.store(1, std::memory_order_release);
}

CounterPage::Trace CounterPage::stop_trace() const {
    m_counters->tracing.store(0, std::memory_order_release);
    TraceRing& ring = trace();
    const std::uint64_t claimed = ring.next.load(std::memory_order_acquire);
    Trace trace;
    trace.dropped = claimed > TraceRing::capacity ? claimed - TraceRing::capacity : 0;
    const std::uint64_t count = claimed < TraceRing::capacity ? claimed : TraceRing::capacity;
    for (std::uint64_t i = 0; i < count; ++i) {
        const TraceRecord& record = ring.records[i];
        const std::uint8_t kind = record.kind.load(std::memory_order_acquire);
        // A record still being written when recording stopped, or one a
        // runner scribbled over: left out.
        if (kind != static_cast<std::uint8_t>(TraceKind::Message) && kind != static_cast<std::uint8_t>(TraceKind::Wait))
            continue;
        trace.records.push_back(record);
    }
    return trace;
}

void CounterPage::retire_dead(pid_t pid) const {
    InstanceCounters& counters = *m_counters;
    for (ChannelCounter& slot : counters.channels) {
        if (slot.in_use.load(std::memory_order_acquire) == 0 || slot.owner.load(std::memory_order_relaxed) != pid)
            continue;
        counters.retired.fetch_add(slot.messages.load(std::memory_order_relaxed), std::memory_order_relaxed);
        slot.messages.store(0, std::memory_order_relaxed);
        slot.in_use.store(0, std::memory_order_release);
        counters.channels_closed.fetch_add(1, std::memory_order_relaxed);
    }
    // (Its channels beyond the slots stay counted open: nothing says whose
    // they were. A host with more than 62 channels to one instance shows
    // too many open after a restart.)
}

}  // namespace milk::host::detail
