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
// Elements that publish themselves. An element type with a
// `ring_sequence_offset` (the 64-byte Slot: its `flags` word) carries its
// own publication, as FastForward's and Disruptor's slots do: the producer
// writes the element, then its index, then (release) the element's sequence
// word = index + 1; the consumer never reads the producer's index but polls
// the sequence word of the element it expects next. A message then moves one
// cache line from producer to consumer instead of two (the index line, and
// only after it the element's line), which is what brings a round trip near
// the floor of two cache-line transfers (docs/decisions.md D44). The producer
// still stores its index (before the sequence, so an index is never behind
// a published element): tools, the kernel's poll and relocation read it, and
// the line stays in the producer's cache because the consumer does not. The
// consumer hands the sequence word back as zero in every element it copies
// out, so decoders see the `flags` word as before.
//
// Nothing from the other side is trusted. An index, each time it is read, is
// checked to lie in the only window an honest peer can produce. A sequence
// word may hold only what an honest producer leaves in that element: the
// expected value (ready), the value of one lap before, or zero (never
// written; not ready); anything else is CorruptRing. Each expected value is
// taken once, so a hostile producer cannot make the consumer use an element
// twice, and the element's position is masked, never taken from the peer.
// Elements are published by release stores (the producer's index, or the
// element's sequence word) and handed back by the consumer's release store of
// its index; the acquire loads on the other side order the element copies
// (no data race on element memory, which TSan checks: the producer never
// writes a sequence word with a plain store, since the consumer may be
// polling it).
#pragma once

#include "result.hpp"

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace milk {

inline constexpr std::size_t cache_line_size = 64;

// An element type that carries its own publication word (see the top of the
// file): a u32 at T::ring_sequence_offset that only the ring reads and writes.
template <typename T>
concept SelfPublishing = requires {
    { T::ring_sequence_offset } -> std::convertible_to<std::size_t>;
} && T::ring_sequence_offset % 4 == 0 && T::ring_sequence_offset + 4 <= sizeof(T);

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

// The sequence word of the element at `element` (SelfPublishing types).
template <typename T>
inline std::uint32_t& sequence_of(std::byte* element) {
    return *reinterpret_cast<std::uint32_t*>(element + T::ring_sequence_offset);
}

// Zeroes an element in the ring except its sequence word.
template <typename T>
inline void zero(std::byte* element) {
    if constexpr (SelfPublishing<T>) {
        constexpr std::size_t word = T::ring_sequence_offset;
        std::memset(element, 0, word);
        std::memset(element + word + 4, 0, sizeof(T) - word - 4);
    } else {
        std::memset(element, 0, sizeof(T));
    }
}

// Copies `item` into the ring's element except its sequence word, which the
// consumer may be polling (a plain store to it would race with that load).
template <typename T>
inline void copy_in(std::byte* element, const T& item) {
    const auto* from = reinterpret_cast<const std::byte*>(&item);
    if constexpr (SelfPublishing<T>) {
        constexpr std::size_t word = T::ring_sequence_offset;
        std::memcpy(element, from, word);
        std::memcpy(element + word + 4, from + word + 4, sizeof(T) - word - 4);
    } else {
        std::memcpy(element, from, sizeof(T));
    }
}

// Copies an element out of the ring, with its sequence word zeroed: what the
// receiver decodes never shows the ring's bookkeeping.
template <typename T>
inline void copy_out(T& item, const std::byte* element) {
    std::memcpy(&item, element, sizeof(T));
    if constexpr (SelfPublishing<T>) std::memset(reinterpret_cast<std::byte*>(&item) + T::ring_sequence_offset, 0, 4);
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
        for (std::uint32_t i = 0; i < count; ++i) ring_detail::copy_in(element(m_head + i), items[i]);
        if (count > 0) publish(count);
        return std::size_t{count};
    }

    // Producing in place: the next free element, zeroed, to be written
    // there and then published by publish_claimed(). Zeroed so that padding
    // the writer skips goes out as zeros, never as an older message's bytes;
    // a self-publishing element keeps its sequence word, which only the ring
    // writes (the caller must not write it either). Null when the ring is
    // full, or when the consumer's index is corrupt (try_push reports that).
    [[nodiscard]] T* try_claim() {
        if (m_head - m_cached_tail == capacity()) {
            if (!refresh().ok() || m_head - m_cached_tail == capacity()) return nullptr;
        }
        std::byte* claimed = element(m_head);
        ring_detail::zero<T>(claimed);
        return reinterpret_cast<T*>(claimed);
    }
    // Publishes the element try_claim() returned. Precondition: it returned
    // one, and nothing was pushed since.
    void publish_claimed() { publish(1); }

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
            ring_detail::copy_out(out[i], element(m_cached_tail + static_cast<std::uint32_t>(i)));
        return count;
    }

private:
    [[nodiscard]] std::byte* element(std::uint32_t index) const {
        return m_elements + std::size_t{index & m_mask} * sizeof(T);
    }

    // Publishes the `count` elements written after m_head: our index first,
    // then (self-publishing elements) each element's sequence word, so the
    // index is never behind an element a consumer may already take.
    void publish(std::uint32_t count) {
        const std::uint32_t first = m_head;
        m_head += count;
        ring_detail::store_release(m_header->producer_index, m_head);
        if constexpr (SelfPublishing<T>) {
            for (std::uint32_t i = 0; i < count; ++i)
                ring_detail::store_release(ring_detail::sequence_of<T>(element(first + i)), first + i + 1);
        }
    }

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
        // The producer's index is checked once here even for elements that
        // publish themselves (a region handed over corrupt is refused at
        // once); they are then taken by their sequence words alone, since
        // the index the producer stores first may be ahead of them.
        if (auto checked = consumer.refresh_index(); !checked.ok()) return checked.error();
        consumer.m_cached_head = consumer.m_tail;
        if (auto refreshed = consumer.refresh(); !refreshed.ok()) return refreshed.error();
        return consumer;
    }

    [[nodiscard]] std::uint32_t capacity() const { return m_mask + 1; }

    // Elements ready to take. Reads the producer's index (or the elements'
    // sequence words) only when the cached copy shows fewer than `wanted`.
    [[nodiscard]] Result<std::uint32_t> available(std::uint32_t wanted = 1) {
        std::uint32_t ready = m_cached_head - m_tail;
        if (ready >= wanted) return ready;
        if (auto refreshed = refresh(wanted); !refreshed.ok()) return refreshed.error();
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
        for (std::uint32_t i = 0; i < count; ++i) ring_detail::copy_out(out[i], element(m_tail + i));
        m_tail += count;
        if (count > 0) ring_detail::store_release(m_header->consumer_index, m_tail);
        return std::size_t{count};
    }

    [[nodiscard]] std::uint32_t consumed() const { return m_tail; }

private:
    [[nodiscard]] const std::byte* element(std::uint32_t index) const {
        return m_elements + std::size_t{index & m_mask} * sizeof(T);
    }

    // Learns of newly published elements: from the producer's index, or for
    // self-publishing elements from the sequence words of the elements after
    // the ones already known ready (at most `wanted` in all).
    Result<void> refresh(std::uint32_t wanted = 1) {
        if constexpr (SelfPublishing<T>) return refresh_sequences(wanted);
        else return refresh_index();
    }

    // An honest producer leaves in the element we expect next either its
    // sequence (index + 1: ready), the one of a lap before, or zero (never
    // written). Anything else is a corrupt ring.
    Result<void> refresh_sequences(std::uint32_t wanted) {
        while (m_cached_head - m_tail < wanted && m_cached_head - m_tail < capacity()) {
            auto& word = ring_detail::sequence_of<T>(m_elements + std::size_t{m_cached_head & m_mask} * sizeof(T));
            const std::uint32_t sequence = ring_detail::load_acquire(word);
            const std::uint32_t expected = m_cached_head + 1;
            if (sequence == expected) {
                ++m_cached_head;
                continue;
            }
            if (sequence == 0 || sequence == expected - capacity()) break;
            return Error{ErrorCode::CorruptRing, "element sequence is neither the one expected nor a lap before",
                         sequence};
        }
        return {};
    }

    // Reads the producer's index and checks it: an honest producer is never
    // behind us and never more than `capacity` ahead.
    Result<void> refresh_index() {
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
