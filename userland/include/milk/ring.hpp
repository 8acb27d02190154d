// A single-producer single-consumer ring in a caller-provided memory region.
//
// The region holds a RingHeader (two cache lines: the producer's index and the
// consumer's index) followed by `capacity` elements. Nothing in the region is
// a pointer, so the same bytes work when the region is mapped at different
// addresses in two processes (memfd) or shared with the kernel:
//
//   offset 0    producer_index   u32, written only by the producer
//   offset 64   consumer_index   u32, written only by the consumer
//   offset 128  element[0] ... element[capacity - 1]
//
// Indices run freely over all of u32 and wrap; element i lives at
// i & (capacity - 1). The ring holds `producer_index - consumer_index`
// elements, which is never more than capacity.
//
// Each side keeps its own index and a cached copy of the other's index in its
// private RingProducer / RingConsumer object (one cache line each, never
// written by the other side): the shared lines are read only when the cached
// copy says the ring is full (producer) or empty (consumer), as in
// Rigtorp's and DPDK's rings. A side never re-reads its own index from shared
// memory, so a peer that scribbles on it cannot move us.
//
// The other side's index is untrusted: every time it is read it is checked
// to lie in the only window an honest peer can produce, and anything else is
// CorruptRing. Elements are published by the producer's release store of its
// index and handed back by the consumer's release store of its index; the
// acquire loads on the other side order the element copies (no data race on
// element memory, which TSan checks).
#pragma once

#include "result.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace milk {

inline constexpr std::size_t cache_line_size = 64;

struct RingHeader {
    alignas(cache_line_size) std::uint32_t producer_index;
    alignas(cache_line_size) std::uint32_t consumer_index;
};
static_assert(sizeof(RingHeader) == 2 * cache_line_size);
static_assert(std::is_trivially_copyable_v<RingHeader> && std::is_standard_layout_v<RingHeader>);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free,
              "ring indices are shared between processes, so their atomics must be lock-free (address-free)");

// The largest capacity: keeps `producer - consumer` unambiguous in u32.
inline constexpr std::uint32_t ring_max_capacity = 1u << 30;

[[nodiscard]] constexpr bool valid_ring_capacity(std::uint32_t capacity) {
    return capacity >= 1 && capacity <= ring_max_capacity && (capacity & (capacity - 1)) == 0;
}

// Bytes a ring of `capacity` elements of T needs (header included).
template <typename T>
[[nodiscard]] constexpr std::size_t ring_region_bytes(std::uint32_t capacity) {
    return sizeof(RingHeader) + std::size_t{capacity} * sizeof(T);
}

// Puts a fresh (empty) ring header at the start of `region`. Only the side
// that creates the region does this, before the peer attaches.
inline void initialise_ring(std::byte* region) { std::memset(region, 0, sizeof(RingHeader)); }

namespace ring_detail {

inline std::uint32_t load_acquire(std::uint32_t& word) {
    return std::atomic_ref<std::uint32_t>(word).load(std::memory_order_acquire);
}
inline std::uint32_t load_relaxed(std::uint32_t& word) {
    return std::atomic_ref<std::uint32_t>(word).load(std::memory_order_relaxed);
}
inline void store_release(std::uint32_t& word, std::uint32_t value) {
    std::atomic_ref<std::uint32_t>(word).store(value, std::memory_order_release);
}

// Common checks of attach(): capacity, size and alignment of the region.
template <typename T>
[[nodiscard]] Result<void> check_region(std::span<std::byte> region, std::uint32_t capacity) {
    if (!valid_ring_capacity(capacity))
        return Error{ErrorCode::InvalidArgument, "ring capacity must be a power of two in [1, 2^30]", capacity};
    if (region.size() < ring_region_bytes<T>(capacity))
        return Error{ErrorCode::InvalidArgument, "ring region is smaller than header + capacity elements",
                     static_cast<std::int64_t>(region.size())};
    if (reinterpret_cast<std::uintptr_t>(region.data()) % cache_line_size != 0)
        return Error{ErrorCode::InvalidArgument, "ring region must be cache-line aligned", 0};
    return {};
}

}  // namespace ring_detail

// The producing side of a ring. Private to the producer (one cache line).
template <typename T>
class alignas(cache_line_size) RingProducer {
    static_assert(std::is_trivially_copyable_v<T>, "ring elements are copied as bytes");
    static_assert(alignof(T) <= cache_line_size);

public:
    // A detached producer; attach() makes a usable one.
    RingProducer() = default;

    // Attaches to a ring whose header was initialised (initialise_ring). Reads
    // our own index once (it may be non-zero when a region is handed over) and
    // checks the consumer's against it.
    [[nodiscard]] static Result<RingProducer> attach(std::span<std::byte> region, std::uint32_t capacity) {
        if (auto checked = ring_detail::check_region<T>(region, capacity); !checked.ok()) return checked.error();
        RingProducer producer;
        producer.m_header = reinterpret_cast<RingHeader*>(region.data());
        producer.m_elements = region.data() + sizeof(RingHeader);
        producer.m_mask = capacity - 1;
        producer.m_head = ring_detail::load_relaxed(producer.m_header->producer_index);
        if (auto refreshed = producer.refresh(); !refreshed.ok()) return refreshed.error();
        return producer;
    }

    [[nodiscard]] std::uint32_t capacity() const { return m_mask + 1; }

    // Free elements. Reads the consumer's index only when the cached copy
    // shows fewer than `wanted` free.
    [[nodiscard]] Result<std::uint32_t> free_slots(std::uint32_t wanted = 1) {
        std::uint32_t free = capacity() - (m_head - m_cached_tail);
        if (free >= wanted) return free;
        if (auto refreshed = refresh(); !refreshed.ok()) return refreshed.error();
        return capacity() - (m_head - m_cached_tail);
    }

    // Copies as many of `items` as fit and publishes them all with one
    // release store. Returns how many were published (0 when full).
    [[nodiscard]] Result<std::size_t> try_push(std::span<const T> items) {
        if (items.empty()) return std::size_t{0};
        const std::uint32_t wanted =
            items.size() > capacity() ? capacity() : static_cast<std::uint32_t>(items.size());
        auto free = free_slots(wanted);
        if (!free.ok()) return free.error();
        const std::uint32_t count = free.value() < wanted ? free.value() : wanted;
        for (std::uint32_t i = 0; i < count; ++i)
            std::memcpy(m_elements + std::size_t{(m_head + i) & m_mask} * sizeof(T), &items[i], sizeof(T));
        m_head += count;
        if (count > 0) ring_detail::store_release(m_header->producer_index, m_head);
        return std::size_t{count};
    }

    // Producing in place: the next free element, to be written there and
    // then published by publish_claimed(). Null when the ring is full, or
    // when the consumer's index is corrupt (try_push reports that).
    [[nodiscard]] T* try_claim() {
        if (m_head - m_cached_tail == capacity()) {
            if (!refresh().ok() || m_head - m_cached_tail == capacity()) return nullptr;
        }
        return reinterpret_cast<T*>(m_elements + std::size_t{m_head & m_mask} * sizeof(T));
    }
    // Publishes the element try_claim() returned. Precondition: it returned
    // one, and nothing was pushed since.
    void publish_claimed() {
        ++m_head;
        ring_detail::store_release(m_header->producer_index, m_head);
    }

    // Our producer index (what we published last). For diagnostics and tests.
    [[nodiscard]] std::uint32_t published() const { return m_head; }

    // How many elements we published that the consumer has not taken.
    [[nodiscard]] Result<std::uint32_t> unconsumed() {
        if (auto refreshed = refresh(); !refreshed.ok()) return refreshed.error();
        return m_head - m_cached_tail;
    }

    // Copies the elements we published that the consumer has not taken,
    // oldest first, into `out` (at most its size) and returns how many. For
    // a consumer that has stopped for good (a component moved elsewhere,
    // whose successor must get them): nothing is taken off the ring.
    [[nodiscard]] Result<std::size_t> peek_unconsumed(std::span<T> out) {
        if (auto refreshed = refresh(); !refreshed.ok()) return refreshed.error();
        const std::uint32_t pending = m_head - m_cached_tail;
        const std::size_t count = pending < out.size() ? pending : out.size();
        for (std::size_t i = 0; i < count; ++i)
            std::memcpy(&out[i], m_elements + std::size_t{(m_cached_tail + i) & m_mask} * sizeof(T), sizeof(T));
        return count;
    }

private:
    // Reads the consumer's index and checks it: an honest consumer is never
    // ahead of us and never more than `capacity` behind.
    Result<void> refresh() {
        const std::uint32_t tail = ring_detail::load_acquire(m_header->consumer_index);
        if (m_head - tail > capacity())
            return Error{ErrorCode::CorruptRing, "consumer index outside [producer - capacity, producer]", tail};
        m_cached_tail = tail;
        return {};
    }

    RingHeader* m_header = nullptr;
    std::byte* m_elements = nullptr;
    std::uint32_t m_mask = 0;
    std::uint32_t m_head = 0;         // our index: the next element we write
    std::uint32_t m_cached_tail = 0;  // the consumer's index as last read
};

// The consuming side of a ring. Private to the consumer (one cache line).
template <typename T>
class alignas(cache_line_size) RingConsumer {
    static_assert(std::is_trivially_copyable_v<T>, "ring elements are copied as bytes");
    static_assert(alignof(T) <= cache_line_size);

public:
    RingConsumer() = default;

    [[nodiscard]] static Result<RingConsumer> attach(std::span<std::byte> region, std::uint32_t capacity) {
        if (auto checked = ring_detail::check_region<T>(region, capacity); !checked.ok()) return checked.error();
        RingConsumer consumer;
        consumer.m_header = reinterpret_cast<RingHeader*>(region.data());
        consumer.m_elements = region.data() + sizeof(RingHeader);
        consumer.m_mask = capacity - 1;
        consumer.m_tail = ring_detail::load_relaxed(consumer.m_header->consumer_index);
        consumer.m_cached_head = consumer.m_tail;
        if (auto refreshed = consumer.refresh(); !refreshed.ok()) return refreshed.error();
        return consumer;
    }

    [[nodiscard]] std::uint32_t capacity() const { return m_mask + 1; }

    // Elements ready to take. Reads the producer's index only when the cached
    // copy shows fewer than `wanted`.
    [[nodiscard]] Result<std::uint32_t> available(std::uint32_t wanted = 1) {
        std::uint32_t ready = m_cached_head - m_tail;
        if (ready >= wanted) return ready;
        if (auto refreshed = refresh(); !refreshed.ok()) return refreshed.error();
        return m_cached_head - m_tail;
    }

    // Copies up to out.size() elements out (each exactly once: the peer may
    // rewrite them, so nothing keeps a reference into the ring) and hands
    // their slots back with one release store. Returns how many (0 if empty).
    [[nodiscard]] Result<std::size_t> try_pop(std::span<T> out) {
        if (out.empty()) return std::size_t{0};
        const std::uint32_t wanted = out.size() > capacity() ? capacity() : static_cast<std::uint32_t>(out.size());
        auto ready = available(wanted);
        if (!ready.ok()) return ready.error();
        const std::uint32_t count = ready.value() < wanted ? ready.value() : wanted;
        for (std::uint32_t i = 0; i < count; ++i)
            std::memcpy(&out[i], m_elements + std::size_t{(m_tail + i) & m_mask} * sizeof(T), sizeof(T));
        m_tail += count;
        if (count > 0) ring_detail::store_release(m_header->consumer_index, m_tail);
        return std::size_t{count};
    }

    [[nodiscard]] std::uint32_t consumed() const { return m_tail; }

private:
    // Reads the producer's index and checks it: an honest producer is never
    // behind us and never more than `capacity` ahead.
    Result<void> refresh() {
        const std::uint32_t head = ring_detail::load_acquire(m_header->producer_index);
        if (head - m_tail > capacity())
            return Error{ErrorCode::CorruptRing, "producer index outside [consumer, consumer + capacity]", head};
        m_cached_head = head;
        return {};
    }

    RingHeader* m_header = nullptr;
    std::byte* m_elements = nullptr;
    std::uint32_t m_mask = 0;
    std::uint32_t m_tail = 0;         // our index: the next element we read
    std::uint32_t m_cached_head = 0;  // the producer's index as last read
};

}  // namespace milk
