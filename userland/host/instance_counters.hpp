// What an instance's channels count, in one page of memory that the serving
// side writes and the host reads: an anonymous mapping for `inproc`, a memfd
// that the host creates and its runner maps for `process`. Not installed.
//
// Each open channel owns a counter of its own, written by its serving thread
// alone (a relaxed load and store, no locked instruction), so that counting
// costs the message path next to nothing (bench: `milk-bench --host`). When
// a channel closes its count moves to `retired`. The host reads numbers
// only, never pointers, so a runner that scribbles over the page can make
// the counts wrong but cannot hurt the host.
#pragma once

#include <milk/channel.hpp>
#include <milk/result.hpp>
#include <milk/state_machine.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <sys/types.h>
#include <vector>

namespace milk::host::detail {

struct alignas(64) ChannelCounter {
    std::atomic<std::uint32_t> in_use{0};
    // The channel's protocol state, an index of the component's
    // session::StateMachine (invalid: the last message fit no transition).
    std::atomic<std::uint32_t> state{0};
    std::atomic<std::uint64_t> messages{0};
    // The host's name for the channel (a movable instance's; 0: none), so
    // that after a runner died the host can tell each channel's last state.
    std::atomic<std::uint64_t> channel{0};
    // The process that serves it: the host's for inproc, a runner's for
    // process (both count in one page when an instance moves).
    std::atomic<std::int32_t> owner{0};
};

struct InstanceCounters {
    static constexpr std::size_t channel_slots = 62;

    // Nonzero while the host records a trace (milkctl trace): the serving
    // side then writes an event per message into the page's trace ring.
    // Off, it costs a relaxed load per message.
    std::atomic<std::uint32_t> tracing{0};
    std::atomic<std::uint64_t> channels_opened{0};
    std::atomic<std::uint64_t> channels_closed{0};
    // Messages of closed channels, and of channels beyond channel_slots
    // (those count here directly, with a locked add).
    std::atomic<std::uint64_t> retired{0};
    ChannelCounter channels[channel_slots];
};
static_assert(sizeof(InstanceCounters) <= 4096);

// One event of a trace, written by the component's side of a channel.
enum class TraceKind : std::uint8_t {
    // A message: its tag, its direction (the contract's: Send when the
    // client spoke), the protocol state before and after.
    Message = 1,
    // The component waited for a message this long (a receive that slept
    // until the doorbell woke it): `duration_ns` ends at `time_ns`.
    Wait = 2,
};
struct TraceRecord {
    std::uint64_t time_ns = 0;   // CLOCK_MONOTONIC, the same in every process
    std::uint64_t channel = 0;   // the host's name for it, or 1,000,000 + its slot
    std::uint32_t duration_ns = 0;
    std::uint16_t tag = 0;
    std::uint16_t state_before = 0;
    std::uint16_t state_after = 0;
    std::uint8_t direction = 0;  // a session::Direction
    // A TraceKind, stored last (release): zero while the record is written.
    std::atomic<std::uint8_t> kind{0};
    std::uint32_t reserved = 0;

    TraceRecord() = default;
    TraceRecord(const TraceRecord& other)
        : time_ns(other.time_ns),
          channel(other.channel),
          duration_ns(other.duration_ns),
          tag(other.tag),
          state_before(other.state_before),
          state_after(other.state_after),
          direction(other.direction),
          kind(other.kind.load(std::memory_order_relaxed)) {}
    TraceRecord& operator=(const TraceRecord&) = delete;
};
static_assert(sizeof(TraceRecord) == 32);

// The trace ring, after the counters' page: records are claimed with one
// fetch_add each, by any channel's thread; once full, later events are
// counted in `next` only (the host reports them as dropped).
struct TraceRing {
    static constexpr std::size_t capacity = 32 * 1024 - 1;
    std::atomic<std::uint64_t> next{0};
    std::uint64_t reserved = 0;
    TraceRecord records[capacity];
};
static_assert(sizeof(TraceRing) <= 1024 * 1024);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// A mapping of an InstanceCounters page.
class CounterPage {
public:
    // A page for this process only (inproc).
    [[nodiscard]] static Result<CounterPage> try_create_private();
    // A page in a new memfd, to share with a runner (process); fd() is it.
    [[nodiscard]] static Result<CounterPage> try_create_shared();
    // The runner's side: maps the memfd the host created.
    [[nodiscard]] static Result<CounterPage> try_map(int fd);

    CounterPage(CounterPage&& other) noexcept;
    CounterPage& operator=(CounterPage&& other) noexcept;
    CounterPage(const CounterPage&) = delete;
    CounterPage& operator=(const CounterPage&) = delete;
    ~CounterPage();

    [[nodiscard]] InstanceCounters& counters() const { return *m_counters; }
    [[nodiscard]] TraceRing& trace() const;

    // The host's side of a trace: empties the ring and turns recording on;
    // then off, and the events recorded meanwhile (each checked: a runner
    // may have scribbled), with how many did not fit.
    void start_trace() const;
    struct Trace {
        std::vector<TraceRecord> records;
        std::uint64_t dropped = 0;
    };
    [[nodiscard]] Trace stop_trace() const;
    [[nodiscard]] int fd() const { return m_fd; }

    struct Totals {
        std::uint64_t channels_open = 0;
        std::uint64_t channels_opened = 0;
        std::uint64_t messages = 0;
        // Each open channel's own count and protocol state (an index, as
        // the page holds it: the host checks it before it names it), in the
        // order of the page's slots (channels beyond channel_slots count in
        // `messages` only).
        struct Channel {
            std::uint64_t messages = 0;
            std::uint32_t state = 0;
        };
        std::vector<Channel> channels;
    };
    [[nodiscard]] Totals totals() const;

    // After the process `pid` that counted here died: the channels it had
    // open are counted closed, their messages kept in `retired`. Its slots
    // are the host's alone then; other processes' slots are left as they are.
    void retire_dead(pid_t pid) const;

private:
    CounterPage(InstanceCounters* counters, int fd) : m_counters(counters), m_fd(fd) {}
    InstanceCounters* m_counters = nullptr;
    int m_fd = -1;
};

// Wraps the component's end of a channel so that every message it sends or
// receives is counted in `counters` (which must outlive the end: the
// caller keeps its page alive with the shared_ptr), and the channel's
// protocol state follows `machine` (the component's contract). Counts the
// channel as opened now and as closed when the end closes.
// `channel`: the host's name for it, if it has one.
[[nodiscard]] ChannelEnd counted(ChannelEnd&& end, std::shared_ptr<const CounterPage> page,
                                 const session::StateMachine& machine, std::uint64_t channel = 0);

}  // namespace milk::host::detail
