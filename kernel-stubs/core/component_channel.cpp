#include "component_channel.hpp"

#include "channel_trace.hpp"
#include "kernel_log.hpp"

#include <atomic>
#include <cstring>
#include <span>
#include <utility>

namespace milk::kernel {
namespace {

// Appends C strings into a fixed buffer, truncating, always NUL-terminated.
class Text {
public:
    explicit Text(std::span<char> out) : m_out(out) { m_out[0] = '\0'; }
    Text& operator<<(const char* text) {
        for (; text != nullptr && *text != '\0' && m_used + 1 < m_out.size(); ++text) m_out[m_used++] = *text;
        m_out[m_used] = '\0';
        return *this;
    }

private:
    std::span<char> m_out;
    std::size_t m_used = 0;
};

std::span<std::byte> bytes_at(const KernelRegion& region, std::size_t offset, std::size_t length) {
    return {region.base() + offset, length};
}

}  // namespace

Result<Owned<ComponentChannel>> ComponentChannel::try_create(const ComponentEntry& entry, ComponentStats& stats,
                                                             const Settings& settings, const ChannelOrigin& origin,
                                                             std::uint32_t ring_capacity,
                                                             std::uint32_t pool_bytes, ChannelServing serving,
                                                             void* waker, void* serve_waker,
                                                             std::span<const std::byte> snapshot) {
    if (!valid_ring_capacity(ring_capacity) || ring_capacity < MILK_CHANNEL_MIN_CAPACITY ||
        ring_capacity > MILK_CHANNEL_MAX_CAPACITY)
        return Error{ErrorCode::InvalidArgument, "channel ring capacity must be a power of two in [2, 4096]",
                     ring_capacity};
    if ((pool_bytes & (pool_bytes - 1)) != 0 || pool_bytes < MILK_CHANNEL_MIN_POOL || pool_bytes > MILK_CHANNEL_MAX_POOL)
        return Error{ErrorCode::InvalidArgument, "channel pool must be a power of two in [4 KiB, 1 MiB]", pool_bytes};
    auto layout = ChannelRegionLayout::compute(ring_capacity, pool_bytes);
    if (!layout.ok()) return layout.error();
    auto ledger = ExchangeLedger::try_create(ChannelSide::Second, pool_bytes);
    if (!ledger.ok()) return ledger.error();
    if (!snapshot.empty() && entry.restore == nullptr)
        return Error{ErrorCode::InvalidArgument, "a component without a step cannot be restored from a snapshot", 0};
    auto component = snapshot.empty() ? entry.create(settings) : entry.restore(settings, snapshot);
    if (!component.ok()) return component.error();
    // vmalloc_user zeroes the region: every ring index 0, both sides open,
    // every doorbell awake. That is RegionTransport::initialise's state.
    auto region = KernelRegion::try_create(layout->total_bytes);
    if (!region.ok()) return region.error();
    auto channel = Owned<ComponentChannel>::try_create(entry, stats, origin, std::move(component).value(),
                                                       std::move(region).value(),
                                                       layout.value(), std::move(ledger).value(), serving, waker,
                                                       serve_waker);
    if (!channel.ok()) return channel.error();
    if (auto attached = channel.value()->attach(); !attached.ok()) return attached.error();
    return channel;
}

ComponentChannel::ComponentChannel(const ComponentEntry& entry, ComponentStats& stats, const ChannelOrigin& origin,
                                   Owned<ComponentRunner>&& component, KernelRegion&& region,
                                   const ChannelRegionLayout& layout, ExchangeLedger&& ledger, ChannelServing serving,
                                   void* waker, void* serve_waker)
    : m_entry(&entry),
      m_contract(entry.contract),
      m_stats(&stats),
      m_component(std::move(component)),
      m_region(std::move(region)),
      m_layout(layout),
      m_ledger(std::move(ledger)),
      m_serving(serving),
      m_waker(waker),
      m_serve_waker(serve_waker),
      m_origin(origin) {
    m_contract->init(&m_state, MILK_KSIDE_SERVER);
    note_state();
    m_stats->channels.fetch_add(1, std::memory_order_relaxed);
    // Both pools, from the kernel's own record of the set-up, never from the
    // region: user space's buffers, and the kernel's it may hand back.
    m_heap_pool.base = 0;
    m_heap_pool.size = 2ull * layout.pool_bytes;
}

// Buffers still lent to user space need nothing: they are blocks of the
// region, which goes with the channel, and their bookkeeping is the ledger's.
// The component goes first, while the region and the ledger still exist: a
// session-typed component's buffers give their blocks back as they die.
ComponentChannel::~ComponentChannel() {
    m_component = Owned<ComponentRunner>();
    m_stats->channels.fetch_sub(1, std::memory_order_relaxed);
}

Result<void> ComponentChannel::attach() {
    const std::size_t ring_bytes = ring_region_bytes<Slot>(m_layout.ring_capacity);
    const std::size_t return_bytes = ring_region_bytes<WireBytes>(m_layout.return_ring_capacity);
    auto in = RingConsumer<Slot>::attach(bytes_at(m_region, m_layout.message_ring_offset[0], ring_bytes),
                                         m_layout.ring_capacity);
    if (!in.ok()) return in.error();
    auto out = RingProducer<Slot>::attach(bytes_at(m_region, m_layout.message_ring_offset[1], ring_bytes),
                                          m_layout.ring_capacity);
    if (!out.ok()) return out.error();
    auto returns_out = RingProducer<WireBytes>::attach(bytes_at(m_region, m_layout.return_ring_offset[0], return_bytes),
                                                       m_layout.return_ring_capacity);
    if (!returns_out.ok()) return returns_out.error();
    auto returns_in = RingConsumer<WireBytes>::attach(bytes_at(m_region, m_layout.return_ring_offset[1], return_bytes),
                                                      m_layout.return_ring_capacity);
    if (!returns_in.ok()) return returns_in.error();
    m_in = in.value();
    m_out = out.value();
    m_returns_out = returns_out.value();
    m_returns_in = returns_in.value();
    return {};
}

SideStatus& ComponentChannel::own_status() const {
    auto* control = reinterpret_cast<ChannelControl*>(m_region.base() + m_layout.control_offset);
    return control->status[side_index(ChannelSide::Second)];
}

bool ComponentChannel::user_closed() const {
    auto* control = reinterpret_cast<ChannelControl*>(m_region.base() + m_layout.control_offset);
    // A hint only: user space may write anything there. It decides nothing
    // but whether the kernel stops serving, which user space may ask for.
    return has_closed(control->status[side_index(ChannelSide::First)]);
}

void ComponentChannel::publish_record_then_close(const Error* reason) {
    // In this order, each step released before the next: user space that
    // sees the close in the status block asks MILK_IOC_CHANNEL_ERROR why at
    // once and must find the record, not an empty one (the contract-driven
    // hostile peer caught a kernel thread's close in between); user space
    // that sees EPIPE or POLLHUP (closed()) must find the status block
    // closed.
    m_record_ready.store(true, std::memory_order_release);
    // The status block is shared memory: written here, never read back.
    const Error published{reason != nullptr ? reason->code : ErrorCode::PeerClosed, nullptr,
                          static_cast<std::int64_t>(m_error.value)};
    publish_close(own_status(), reason != nullptr ? &published : nullptr);
    m_closed.store(true, std::memory_order_release);
    milk_shim_wake(m_waker);
}

Error ComponentChannel::close_with(const Error& error, int kstub_code, const milk_kviolation* violation) {
    // The first reason stands: a component that returns the error its send
    // got would otherwise overwrite the story with its echo.
    if (closed())
        return Error{error.code, "the kernel closed the channel (MILK_IOC_CHANNEL_ERROR says why)",
                     static_cast<std::int64_t>(m_error.value)};
    m_error.closed = 1;
    m_error.reason = static_cast<std::uint32_t>(error.code);
    m_error.kstub_code = kstub_code;
    m_error.state = m_state.state;
    m_error.tag = violation != nullptr ? violation->tag : 0;
    m_error.value = violation != nullptr ? violation->value : static_cast<std::uint64_t>(error.detail);
    Text text(m_error.text);
    text << m_contract->name << ": " << (violation != nullptr ? milk_kcode_name(kstub_code) : error.what);
    if (violation != nullptr) {
        text << " in state " << violation->state_name << " (message "
             << (violation->message != nullptr ? violation->message : "?") << ", field "
             << (violation->field != nullptr ? violation->field : "-") << ")";
    }
    publish_record_then_close(&error);
    log(MILK_LOG_INFO, m_error.text, static_cast<long long>(m_error.value));
    return Error{error.code, "the kernel closed the channel (MILK_IOC_CHANNEL_ERROR says why)",
                 static_cast<std::int64_t>(m_error.value)};
}

Result<void> ComponentChannel::drain_returns() { return m_ledger.drain_returns(m_returns_in); }

Result<bool> ComponentChannel::take_one() {
    auto popped = m_in.try_pop(std::span<Slot>(&m_raw, 1));
    if (!popped.ok()) return close_with(popped.error());
    if (popped.value() == 0) return false;

    // m_raw is the one copy of the slot (try_pop copied it out of the ring
    // once); the validator copies it again into the typed message and
    // checks only that, against the state the kernel tracks.
    milk_kviolation violation{};
    const std::uint32_t before = m_state.state;
    const int verdict = m_contract->validate(&m_state, &m_raw, &m_heap_pool, m_message, &violation);
    if (verdict < 0) {
        const ErrorCode code = verdict == MILK_KV_BAD_HANDLE ? ErrorCode::BadBuffer : ErrorCode::ProtocolViolation;
        return close_with(Error{code, milk_kcode_name(verdict), static_cast<std::int64_t>(violation.value)}, verdict,
                          &violation);
    }
    // The validator knows the pools' bounds, not who holds which block:
    // that is the ledger's, as in user space.
    if (RefusedHandle refused{milk_kbytes{}, Error{ErrorCode::BadBuffer}}; !accept_handles(refused)) {
        violation.code = MILK_KV_BAD_HANDLE;
        violation.field = refused.why.what;
        violation.value = (std::uint64_t{refused.handle.offset} << 32) | refused.handle.length;
        return close_with(Error{ErrorCode::BadBuffer, refused.why.what, static_cast<std::int64_t>(violation.value)},
                          MILK_KV_BAD_HANDLE, &violation);
    }
    // The module's own count of what user space sent this component
    // (MILK_IOC_COMPONENT_INFO): a message counts once it is accepted.
    m_stats->messages.fetch_add(1, std::memory_order_relaxed);
    m_received.fetch_add(1, std::memory_order_relaxed);
    note_state();
    trace_message({m_origin.instance, m_directory_link.id(), m_raw.tag, true, before, m_state.state});
    return true;
}

void ComponentChannel::close_after_user() {
    // User space closed its end after what it sent: the kernel's end closes
    // normally (reason 0) and serves no more. A reason user space gave (its
    // decoder rejected one of our replies, say) is logged as the number it
    // wrote, nothing more: it is user memory.
    auto* control = reinterpret_cast<ChannelControl*>(m_region.base() + m_layout.control_offset);
    const auto reason = std::atomic_ref<std::uint32_t>(control->status[side_index(ChannelSide::First)].reason)
                            .load(std::memory_order_relaxed);
    if (reason != 0) log(MILK_LOG_WARN, "user space closed a channel with an error (its ErrorCode follows)", reason);
    m_error.closed = 1;
    publish_record_then_close(nullptr);
}

Result<std::uint32_t> ComponentChannel::kick() {
    if (closed()) return Error{ErrorCode::PeerClosed, "the channel is closed", 0};
    // Parked for a move: what the client sends waits in ring 0, and goes
    // to the component's next placement (or here again, after resume()).
    if (m_parked) return 0u;
    if (auto drained = drain_returns(); !drained.ok()) return close_with(drained.error());
    // One ring's worth per kick: a peer that keeps producing from another
    // thread cannot hold the kernel in this loop.
    std::uint32_t taken = 0;
    while (taken < m_layout.ring_capacity) {
        // A message is taken only when its reply has room: a reply is never
        // dropped, and a user that does not read its replies stalls only
        // itself.
        auto space = m_out.free_slots(1);
        if (!space.ok()) return close_with(space.error());
        if (space.value() == 0) break;
        auto took = take_one();
        if (!took.ok()) return took.error();
        if (!took.value()) break;
        ++taken;

        m_replies_left = 1;
        m_pending = true;
        auto handled = m_component->on_message(*this);
        m_pending = false;
        if (!handled.ok()) return close_with(handled.error());
        // The component is trusted code, but a missing reply would leave
        // the kernel waiting for its own send and blame the client's next
        // message: say what really happened.
        if (!client_may_speak())
            return close_with(Error{ErrorCode::ProtocolViolation,
                                    "a kernel component left out a reply its contract requires", m_state.state});
    }
    if (taken > 0) milk_shim_wake(m_waker);
    if (user_closed()) close_after_user();
    return taken;
}

Result<std::size_t> ComponentChannel::park(std::span<std::byte> buffer) {
    // A thread may be inside a step at any moment; only the kick's steps
    // run under the file's mutex, which the caller holds.
    if (!parkable()) return Error{ErrorCode::InvalidArgument, "only a step component served in the kick can be parked", 0};
    if (closed()) return Error{ErrorCode::PeerClosed, "the channel is closed", 0};
    if (m_state.state == m_contract->end_state) return Error{ErrorCode::PeerClosed, "the session has ended", 0};
    // Between kicks a per-message component has answered everything it
    // took (kick() closes the channel otherwise): the client speaks next.
    if (!client_may_speak()) return Error{ErrorCode::ProtocolViolation, "a kernel channel between kicks owes a reply", 0};
    m_parked = true;
    return m_component->snapshot(buffer);
}

Result<std::uint32_t> ComponentChannel::resume() {
    if (!m_parked) return Error{ErrorCode::InvalidArgument, "the channel is not parked", 0};
    m_parked = false;
    return kick();
}

Result<void> ComponentChannel::retire() {
    if (!m_parked) return Error{ErrorCode::InvalidArgument, "the channel is not parked", 0};
    if (closed()) return {};
    // Not close_with(): nothing went wrong, and nothing is logged. The
    // record says where the component went for a user who asks.
    m_error.closed = 1;
    m_error.reason = static_cast<std::uint32_t>(ErrorCode::PeerClosed);
    m_error.state = m_state.state;
    m_error.value = static_cast<std::uint64_t>(moved_close_detail);
    Text(m_error.text) << m_contract->name << ": the component moved to another placement";
    const Error moved{ErrorCode::PeerClosed, nullptr, moved_close_detail};
    publish_record_then_close(&moved);
    return {};
}

void ComponentChannel::run() {
    auto served = m_component->run(*this);
    // Replies of the session's last step may not have been announced yet.
    announce_replies();
    if (closed()) return;
    if (!served.ok()) {
        static_cast<void>(close_with(served.error()));
        return;
    }
    // The session reached `end`: nothing more can come that the validator
    // would accept, so the channel stays as it is until user space closes
    // it (or the file goes). Returned blocks are still taken back then, in
    // the destructor's pool.
}

Result<Slot> ComponentChannel::next_message(Deadline deadline) {
    if (m_serving == ChannelServing::InKick) {
        // Inline in a kick: the one message the kick took, once. The kick
        // cannot wait for user space to send another.
        if (!m_pending) return Error{ErrorCode::WouldBlock, "a kernel component received twice for one message", 0};
        m_pending = false;
        return m_raw;
    }
    for (;;) {
        if (closed()) return Error{ErrorCode::PeerClosed, "the channel is closed", 0};
        if (auto drained = drain_returns(); !drained.ok()) return close_with(drained.error());
        auto took = take_one();
        if (!took.ok()) return took.error();
        if (took.value()) {
            m_last_message_ns = milk_shim_clock_ns();
            // A component that is never short of messages must still let
            // the rest of the system have this CPU.
            milk_shim_yield();
            return m_raw;
        }
        if (user_closed()) {
            announce_replies();
            close_after_user();
            return Error{ErrorCode::PeerClosed, "user space closed the channel", 0};
        }
        if (milk_shim_should_stop() != 0) return Error{ErrorCode::PeerClosed, "the channel's file is being released", 0};
        if (deadline.passed()) return Error{ErrorCode::TimedOut, "no message before the deadline", 0};
        announce_replies();
        wait_for_messages(deadline);
    }
}

unsigned int ComponentChannel::poll() const {
    unsigned int bits = 0;
    if (closed()) bits |= MILK_POLL_CLOSED;
    // What the kernel published and user space has not taken. The consumer
    // index comes from user memory; a lie only changes what poll says.
    auto* header = reinterpret_cast<RingHeader*>(m_region.base() + m_layout.message_ring_offset[1]);
    const std::uint32_t consumed = ring_detail::load_acquire(header->consumer_index);
    if (consumed != m_published.load(std::memory_order_acquire)) bits |= MILK_POLL_IN;
    return bits;
}

void ComponentChannel::describe(milk_channel_entry& out, std::uint64_t id) const {
    out = milk_channel_entry{};
    out.id = id;
    static_assert(sizeof out.instance == sizeof m_origin.instance);
    std::memcpy(out.instance, m_origin.instance, sizeof out.instance);
    out.pid = m_origin.pid;
    out.state = m_tracked_state.load(std::memory_order_relaxed);
    out.flags = m_serving == ChannelServing::Thread          ? MILK_CHANNEL_THREAD
                : m_serving == ChannelServing::PollingThread ? MILK_CHANNEL_POLLING_THREAD
                                                             : 0u;
    out.closed = closed() ? 1u : 0u;
    out.received = m_received.load(std::memory_order_relaxed);
    out.sent = m_sent.load(std::memory_order_relaxed);
}

milk_channel_error ComponentChannel::error_record() const {
    if (!m_record_ready.load(std::memory_order_acquire)) return milk_channel_error{};
    return m_error;
}

namespace {

std::atomic_ref<std::uint32_t> ring0_bell(const KernelRegion& region, const ChannelRegionLayout& layout) {
    auto* control = reinterpret_cast<ChannelControl*>(region.base() + layout.control_offset);
    return std::atomic_ref<std::uint32_t>(control->data_bell[0].state);
}

const unsigned int* bell_word(const KernelRegion& region, const ChannelRegionLayout& layout) {
    auto* control = reinterpret_cast<ChannelControl*>(region.base() + layout.control_offset);
    return &control->data_bell[0].state;
}

constexpr std::uint32_t bell_awake = 0;
constexpr std::uint32_t bell_sleeping = 1;

}  // namespace

// How long a PollingThread channel's thread polls ring 0 after its last
// message before it sleeps: long enough that a client in a round-trip loop
// finds it awake.
constexpr long long polling_budget_ns = 200'000;

void ComponentChannel::wait_for_messages(Deadline deadline) {
    if (m_serving == ChannelServing::PollingThread &&
        milk_shim_clock_ns() - m_last_message_ns < polling_budget_ns && milk_shim_may_spin() != 0) {
        milk_shim_relax();
        return;
    }
    // The runtime's doorbell protocol (docs/runtime.md): every access to
    // the word is an exchange, so user space's exchange after publishing
    // either reads Sleeping (and kicks, which wakes us) or comes first, and
    // then the re-check below sees what it published.
    std::atomic_ref<std::uint32_t> bell = ring0_bell(m_region, m_layout);
    bell.exchange(bell_sleeping, std::memory_order_seq_cst);
    auto waiting = m_in.available(1);
    auto returns = m_returns_in.available(1);
    const bool work =
        !waiting.ok() || waiting.value() > 0 || !returns.ok() || returns.value() > 0 || user_closed();
    if (!work) {
        long long timeout_ns = -1;
        if (!deadline.is_never()) {
            const auto left = deadline.at() - Deadline::Clock::now();
            timeout_ns = left.count() < 0 ? 0 : static_cast<long long>(left.count());
        }
        // User space may write anything into the word: a lie only wakes the
        // thread early (it re-checks and sleeps again) or keeps it asleep
        // until the next kick, which sets the word itself.
        static_cast<void>(milk_shim_serve_wait(m_serve_waker, bell_word(m_region, m_layout), bell_sleeping, timeout_ns));
    }
    bell.exchange(bell_awake, std::memory_order_seq_cst);
    // A poll of the rings right after waking counts as within the budget.
    m_last_message_ns = milk_shim_clock_ns();
}

void ComponentChannel::wait_for_reply_room() {
    announce_replies();
    if (m_serving == ChannelServing::PollingThread && milk_shim_may_spin() != 0) {
        milk_shim_relax();
        return;
    }
    // User space does not ring the kernel when it takes replies, so a full
    // reply ring is looked at again after a short sleep (a kick wakes the
    // thread earlier). Only a client that does not read its replies waits
    // here, and it waits for itself.
    static_cast<void>(milk_shim_serve_wait(m_serve_waker, nullptr, 0, 1'000'000));
}

void ComponentChannel::announce_replies() {
    if (!m_unannounced) return;
    m_unannounced = false;
    milk_shim_wake(m_waker);
}

void ComponentChannel::mark_awake() { ring0_bell(m_region, m_layout).exchange(bell_awake, std::memory_order_seq_cst); }

bool ComponentChannel::client_may_speak() const {
    if (m_state.state == m_contract->end_state) return true;
    // States are all-send or all-recv: the client speaks if any message of
    // its own is allowed here.
    for (milk_ku32 tag = 1; tag <= m_contract->tag_count; ++tag) {
        milk_ku32 next = 0;
        if (m_contract->step(m_state.state, MILK_KSIDE_CLIENT, tag, &next) != 0) return true;
    }
    return false;
}

bool ComponentChannel::accept_handles(RefusedHandle& refused) {
    milk_kbytes handles[max_handles_per_message];
    const std::size_t count = m_contract->handles(m_message, handles);
    for (std::size_t i = 0; i < count; ++i) {
        auto accepted = m_ledger.accept(WireBytes{handles[i].offset, handles[i].length});
        if (!accepted.ok()) {
            refused = RefusedHandle{handles[i], accepted.error()};
            return false;
        }
    }
    return true;
}

void ComponentChannel::give_back(const milk_kbytes& handle) {
    const WireBytes wire{handle.offset, handle.length};
    auto pool = m_ledger.classify(wire);
    // Only handles the ledger accepted or allocated reach here (a Buffer of
    // the component's); anything else is our bug and changes nothing.
    if (!pool.ok()) return;
    // One of ours that we hold: freed. One of user space's: it goes home on
    // return ring 0 (full or broken only if user space broke its own ring:
    // then it alone loses the block).
    if (pool.value() == ExchangeLedger::Pool::Own) m_ledger.free_held(handle.offset);
    else m_ledger.return_to_peer(wire, m_returns_out);
}

std::span<std::byte> ComponentChannel::owned_bytes(const milk_kbytes& handle) const {
    // The validator checked the handle against m_heap_pool (both pools), in
    // 64 bits: offset + length <= 2 * pool_bytes.
    return {m_region.base() + m_layout.heap_offset + handle.offset, handle.length};
}

Result<KernelBuffer> ComponentChannel::allocate_held(std::uint32_t bytes) {
    if (auto drained = drain_returns(); !drained.ok()) return close_with(drained.error());
    const std::uint32_t offset = MILK_TRY(m_ledger.allocate(bytes));
    return KernelBuffer{milk_kbytes{offset, bytes},
                        std::span<std::byte>(m_region.base() + m_layout.heap_offset + offset, bytes)};
}

bool ComponentChannel::hand_over(const milk_kbytes& handle) {
    const WireBytes wire{handle.offset, handle.length};
    auto pool = m_ledger.classify(wire);
    if (!pool.ok()) return false;
    // A block of the kernel's that it holds is lent; a region of user
    // space's goes home in the message itself.
    if (pool.value() == ExchangeLedger::Pool::Own) return m_ledger.try_lend(wire);
    m_ledger.hand_back(wire);
    return true;
}

Result<void> ComponentChannel::wait_for_room(std::size_t slots, Deadline deadline) {
    if (closed()) return Error{ErrorCode::PeerClosed, "the channel is closed", 0};
    if (m_serving == ChannelServing::InKick) {
        // The kick reserved room for the one reply before it took the
        // message; it can wait for nothing else.
        if (slots <= m_replies_left) return {};
        return Error{ErrorCode::WouldBlock, "inline in a kick a component sends one reply per message",
                     static_cast<std::int64_t>(slots)};
    }
    if (slots > m_layout.ring_capacity)
        return Error{ErrorCode::InvalidArgument, "more slots than the reply ring holds", static_cast<std::int64_t>(slots)};
    for (;;) {
        auto space = m_out.free_slots(static_cast<std::uint32_t>(slots));
        if (!space.ok()) return close_with(space.error());
        if (space.value() >= slots) return {};
        if (user_closed() || milk_shim_should_stop() != 0)
            return Error{ErrorCode::PeerClosed, "user space stopped reading replies and closed the channel", 0};
        if (deadline.passed()) return Error{ErrorCode::TimedOut, "no room in the reply ring before the deadline", 0};
        wait_for_reply_room();
    }
}

Result<void> ComponentChannel::send(std::uint16_t tag, const void* payload, std::size_t payload_bytes) {
    if (closed()) return Error{ErrorCode::PeerClosed, "the channel is closed", tag};
    const bool in_kick = m_serving == ChannelServing::InKick;
    // Inline in a kick the reply's room was reserved before the message was
    // taken; a serving thread may send anything its contract allows.
    if (in_kick && m_replies_left == 0)
        return Error{ErrorCode::ProtocolViolation, "a kernel component sent more than one reply to a message", tag};
    const std::uint32_t before = m_state.state;
    if (m_contract->on_send(&m_state, tag) < 0)
        return Error{ErrorCode::ProtocolViolation, "a kernel component sent a message its contract does not allow", tag};
    const milk_ku32 length = m_contract->payload_size(tag);
    if (length > slot_payload_size || payload_bytes < length)
        return Error{ErrorCode::ProtocolViolation, "a kernel component's reply has the wrong size", tag};
    Slot slot;
    slot.tag = tag;
    slot.length = static_cast<std::uint16_t>(length);
    if (length > 0) std::memcpy(slot.payload, payload, length);
    for (;;) {
        auto pushed = m_out.try_push(std::span<const Slot>(&slot, 1));
        if (!pushed.ok()) return close_with(pushed.error());
        if (pushed.value() == 1) break;
        // kick() saw a free slot before taking the message, and only user
        // space can change the consumer index: fewer now means it moved
        // backwards.
        if (in_kick) return close_with(Error{ErrorCode::CorruptRing, "the reply ring lost the space it had", tag});
        if (user_closed() || milk_shim_should_stop() != 0)
            return Error{ErrorCode::PeerClosed, "user space stopped reading replies and closed the channel", tag};
        wait_for_reply_room();
    }
    m_published.store(m_out.published(), std::memory_order_release);
    m_unannounced = true;
    if (in_kick) --m_replies_left;
    m_sent.fetch_add(1, std::memory_order_relaxed);
    note_state();
    trace_message({m_origin.instance, m_directory_link.id(), tag, false, before, m_state.state});
    return {};
}

}  // namespace milk::kernel
