#include "instance_counters.hpp"

#include <milk/transport.hpp>

#include <cerrno>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace milk::host::detail {
namespace {

constexpr std::size_t page_bytes = 4096;

Result<InstanceCounters*> map_page(int fd) {
    void* memory = ::mmap(nullptr, page_bytes, PROT_READ | PROT_WRITE, fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS,
                          fd, 0);
    if (memory == MAP_FAILED) return Error{ErrorCode::SystemError, "mapping an instance's counters failed", errno};
    // A fresh page is zero, which is what every counter starts at; placement
    // new makes the atomics' lifetimes begin without writing anything else.
    return new (memory) InstanceCounters;
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
                m_slot = &slot;
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
        auto received = m_inner->receive(deadline);
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
        if (m_state == session::StateMachine::invalid) return;
        m_state = m_machine->step(m_state, direction, tag);
        if (m_slot != nullptr) m_slot->state.store(m_state, std::memory_order_relaxed);
    }
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
    bool m_retired = false;
};

}  // namespace

Result<CounterPage> CounterPage::try_create_private() {
    InstanceCounters* counters = MILK_TRY(map_page(-1));
    return CounterPage(counters, -1);
}

Result<CounterPage> CounterPage::try_create_shared() {
    const int fd = ::memfd_create("milk-instance-counters", MFD_CLOEXEC);
    if (fd < 0) return Error{ErrorCode::SystemError, "memfd_create for an instance's counters failed", errno};
    if (::ftruncate(fd, page_bytes) != 0) {
        const int error = errno;
        ::close(fd);
        return Error{ErrorCode::SystemError, "sizing an instance's counters failed", error};
    }
    auto counters = map_page(fd);
    if (!counters.ok()) {
        ::close(fd);
        return counters.error();
    }
    return CounterPage(counters.value(), fd);
}

Result<CounterPage> CounterPage::try_map(int fd) {
    InstanceCounters* counters = MILK_TRY(map_page(fd));
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
    if (m_counters != nullptr) ::munmap(m_counters, page_bytes);
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

std::vector<CounterPage::DeadChannel> CounterPage::retire_dead() const {
    InstanceCounters& counters = *m_counters;
    std::vector<DeadChannel> dead;
    for (ChannelCounter& slot : counters.channels) {
        if (slot.in_use.load(std::memory_order_acquire) == 0) continue;
        dead.push_back(DeadChannel{slot.channel.load(std::memory_order_relaxed), slot.state.load(std::memory_order_relaxed)});
        counters.retired.fetch_add(slot.messages.load(std::memory_order_relaxed), std::memory_order_relaxed);
        slot.messages.store(0, std::memory_order_relaxed);
        slot.in_use.store(0, std::memory_order_release);
    }
    // The dead process's channels beyond the slots were counted opened and
    // never closed: they close here too.
    const std::uint64_t opened = counters.channels_opened.load(std::memory_order_relaxed);
    counters.channels_closed.store(opened, std::memory_order_relaxed);
    return dead;
}

}  // namespace milk::host::detail
