// The floor for milk's design: a hand-written single-producer single-consumer
// ring of the same 64-byte slots, with none of milk's checks.
//
// It is the textbook cached-index ring (Rigtorp's, DPDK's): the producer's
// and the consumer's shared indices on cache lines of their own, each side's
// private copy of the other's index read again only when the ring looks full
// (producer) or empty (consumer), elements copied in and out whole. It is
// what milk's RingProducer/RingConsumer do too, minus the validation of the
// peer's index, the Result wrapping, the closed flags and the doorbells; the
// distance between the two rows is what those cost.
#pragma once

#include <milk/slot.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace milk::bench {

template <std::uint32_t Capacity>
class RawRing {
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "a power of two");

public:
    // The shared part, as it would lie in a shared mapping.
    struct Shared {
        alignas(64) std::atomic<std::uint32_t> head{0};  // written by the producer
        alignas(64) std::atomic<std::uint32_t> tail{0};  // written by the consumer
        alignas(64) Slot slots[Capacity];
    };

    class alignas(64) Producer {
    public:
        explicit Producer(Shared& shared) : m_shared(&shared) {}
        [[nodiscard]] bool try_push(const Slot& slot) {
            if (m_head - m_cached_tail == Capacity) {
                m_cached_tail = m_shared->tail.load(std::memory_order_acquire);
                if (m_head - m_cached_tail == Capacity) return false;
            }
            std::memcpy(&m_shared->slots[m_head & (Capacity - 1)], &slot, sizeof(Slot));
            ++m_head;
            m_shared->head.store(m_head, std::memory_order_release);
            return true;
        }

    private:
        Shared* m_shared;
        std::uint32_t m_head = 0;
        std::uint32_t m_cached_tail = 0;
    };

    class alignas(64) Consumer {
    public:
        explicit Consumer(Shared& shared) : m_shared(&shared) {}
        [[nodiscard]] bool try_pop(Slot& slot) {
            if (m_tail == m_cached_head) {
                m_cached_head = m_shared->head.load(std::memory_order_acquire);
                if (m_tail == m_cached_head) return false;
            }
            std::memcpy(&slot, &m_shared->slots[m_tail & (Capacity - 1)], sizeof(Slot));
            ++m_tail;
            m_shared->tail.store(m_tail, std::memory_order_release);
            return true;
        }

    private:
        Shared* m_shared;
        std::uint32_t m_tail = 0;
        std::uint32_t m_cached_head = 0;
    };
};

// The same ring with each slot publishing itself, as FastForward's,
// B-Queue's and the Disruptor's slots do: the producer writes the slot but
// its `flags` word, then stores (release) that word = index + 1; the consumer
// polls the word of the slot it expects next and never reads the producer's
// index (there is none). A message moves one cache line instead of two (the
// index line, then the slot's). It is the design issue 17 asked about; milk
// measured it built into its own ring and kept the index (docs/decisions.md
// D44), and this row keeps the comparison on every machine the benchmark
// runs on: "sequenced raw ring RT / raw ring RT" says whether it would pay
// there.
template <std::uint32_t Capacity>
class SequencedRawRing {
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "a power of two");
    static constexpr std::size_t word = offsetof(Slot, flags);

    static std::atomic_ref<std::uint32_t> sequence(Slot& slot) { return std::atomic_ref<std::uint32_t>(slot.flags); }

public:
    struct Shared {
        alignas(64) std::atomic<std::uint32_t> tail{0};  // written by the consumer
        alignas(64) Slot slots[Capacity];                // flags: the slot's sequence
    };

    class alignas(64) Producer {
    public:
        explicit Producer(Shared& shared) : m_shared(&shared) {}
        [[nodiscard]] bool try_push(const Slot& slot) {
            if (m_head - m_cached_tail == Capacity) {
                m_cached_tail = m_shared->tail.load(std::memory_order_acquire);
                if (m_head - m_cached_tail == Capacity) return false;
            }
            Slot& at = m_shared->slots[m_head & (Capacity - 1)];
            // Everything but the sequence word, which the consumer may be
            // polling; then the word, last.
            auto* to = reinterpret_cast<std::byte*>(&at);
            const auto* from = reinterpret_cast<const std::byte*>(&slot);
            std::memcpy(to, from, word);
            std::memcpy(to + word + 4, from + word + 4, sizeof(Slot) - word - 4);
            ++m_head;
            sequence(at).store(m_head, std::memory_order_release);
            return true;
        }

    private:
        Shared* m_shared;
        std::uint32_t m_head = 0;
        std::uint32_t m_cached_tail = 0;
    };

    class alignas(64) Consumer {
    public:
        explicit Consumer(Shared& shared) : m_shared(&shared) {}
        [[nodiscard]] bool try_pop(Slot& slot) {
            Slot& at = m_shared->slots[m_tail & (Capacity - 1)];
            if (sequence(at).load(std::memory_order_acquire) != m_tail + 1) return false;
            std::memcpy(&slot, &at, sizeof(Slot));
            slot.flags = 0;
            ++m_tail;
            m_shared->tail.store(m_tail, std::memory_order_release);
            return true;
        }

    private:
        Shared* m_shared;
        std::uint32_t m_tail = 0;
    };
};

}  // namespace milk::bench
