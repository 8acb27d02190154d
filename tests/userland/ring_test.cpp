// milk::RingProducer / RingConsumer in a plain memory block.
#include <doctest/doctest.h>

#include <milk/ring.hpp>
#include <milk/slot.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace {

using milk::ErrorCode;
using milk::RingConsumer;
using milk::RingHeader;
using milk::RingProducer;

template <typename T, std::uint32_t Capacity>
struct RingMemory {
    alignas(64) std::array<std::byte, milk::ring_region_bytes<T>(Capacity)> bytes{};
    RingMemory() { milk::initialise_ring(bytes.data()); }
    std::span<std::byte> span() { return bytes; }
    RingHeader& header() { return *reinterpret_cast<RingHeader*>(bytes.data()); }
};

}  // namespace

TEST_CASE("ring: empty, then one at a time in order across many wraparounds") {
    RingMemory<std::uint64_t, 4> memory;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<std::uint64_t>::attach(memory.span(), 4).value();
    std::uint64_t out = 0;
    CHECK(consumer.try_pop(std::span(&out, 1)).value() == 0);
    for (std::uint64_t i = 0; i < 1000; ++i) {
        const std::uint64_t in = i * 7 + 1;
        REQUIRE(producer.try_push(std::span(&in, 1)).value() == 1);
        REQUIRE(consumer.try_pop(std::span(&out, 1)).value() == 1);
        CHECK(out == in);
        CHECK(consumer.try_pop(std::span(&out, 1)).value() == 0);
    }
    CHECK(memory.header().producer_index == 1000);
    CHECK(memory.header().consumer_index == 1000);
}

TEST_CASE("ring: batches straddle the wrap point and keep order") {
    RingMemory<std::uint64_t, 8> memory;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 8).value();
    auto consumer = RingConsumer<std::uint64_t>::attach(memory.span(), 8).value();
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    for (int round = 0; round < 500; ++round) {
        std::array<std::uint64_t, 5> in{};
        for (auto& value : in) value = next_in++;
        const auto pushed = producer.try_push(in).value();
        next_in -= in.size() - pushed;  // what did not fit is sent next round
        std::array<std::uint64_t, 3> out{};
        const auto popped = consumer.try_pop(out).value();
        for (std::size_t i = 0; i < popped; ++i) CHECK(out[i] == next_out++);
    }
    std::array<std::uint64_t, 8> rest{};
    const auto popped = consumer.try_pop(rest).value();
    for (std::size_t i = 0; i < popped; ++i) CHECK(rest[i] == next_out++);
    CHECK(next_out == next_in);
}

TEST_CASE("ring: a batch is published with one index store, consumed with one") {
    RingMemory<std::uint64_t, 8> memory;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 8).value();
    auto consumer = RingConsumer<std::uint64_t>::attach(memory.span(), 8).value();
    const std::array<std::uint64_t, 3> in{10, 11, 12};
    CHECK(producer.try_push(in).value() == 3);
    CHECK(memory.header().producer_index == 3);
    CHECK(consumer.available().value() == 3);
    std::array<std::uint64_t, 8> out{};
    CHECK(consumer.try_pop(out).value() == 3);
    CHECK(memory.header().consumer_index == 3);
    CHECK(out[0] == 10);
    CHECK(out[1] == 11);
    CHECK(out[2] == 12);
}

TEST_CASE("ring: full ring takes nothing until the consumer makes room") {
    RingMemory<milk::Slot, 4> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<milk::Slot>::attach(memory.span(), 4).value();
    std::array<milk::Slot, 5> in{};
    for (std::size_t i = 0; i < in.size(); ++i) in[i].tag = static_cast<std::uint16_t>(i + 1);
    CHECK(producer.try_push(in).value() == 4);
    CHECK(producer.free_slots().value() == 0);
    CHECK(producer.try_push(std::span(in).subspan(4)).value() == 0);
    milk::Slot out;
    CHECK(consumer.try_pop(std::span(&out, 1)).value() == 1);
    CHECK(out.tag == 1);
    CHECK(producer.try_push(std::span(in).subspan(4)).value() == 1);
    std::array<milk::Slot, 8> rest{};
    REQUIRE(consumer.try_pop(rest).value() == 4);
    CHECK(rest[0].tag == 2);
    CHECK(rest[3].tag == 5);
}

TEST_CASE("ring: an element claimed in place is the consumer's only once published") {
    RingMemory<milk::Slot, 2> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 2).value();
    auto consumer = RingConsumer<milk::Slot>::attach(memory.span(), 2).value();
    milk::Slot* claimed = producer.try_claim();
    REQUIRE(claimed != nullptr);
    claimed->tag = 9;
    // Claimed again until published: the same element, zeroed afresh.
    CHECK(producer.try_claim() == claimed);
    CHECK(claimed->tag == 0);
    claimed->tag = 7;
    CHECK(consumer.available().value() == 0);
    producer.publish_claimed();
    milk::Slot* next = producer.try_claim();
    REQUIRE(next != nullptr);
    CHECK(next != claimed);
    next->tag = 8;
    producer.publish_claimed();
    // Full: nothing to claim until the consumer makes room.
    CHECK(producer.try_claim() == nullptr);
    std::array<milk::Slot, 2> out{};
    REQUIRE(consumer.try_pop(out).value() == 2);
    CHECK(out[0].tag == 7);
    CHECK(out[1].tag == 8);
    CHECK(producer.try_claim() == claimed);
}

TEST_CASE("ring: a corrupt consumer index gives no element to claim, and try_push reports it") {
    RingMemory<milk::Slot, 2> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 2).value();
    std::array<milk::Slot, 2> two{};
    REQUIRE(producer.try_push(two).value() == 2);
    memory.header().consumer_index = 1000;  // ahead of the producer
    CHECK(producer.try_claim() == nullptr);
    CHECK(producer.try_push(two).error().code == ErrorCode::CorruptRing);
}

TEST_CASE("ring: free-running indices wrap past 2^32") {
    RingMemory<std::uint64_t, 4> memory;
    memory.header().producer_index = 0xFFFFFFFEu;
    memory.header().consumer_index = 0xFFFFFFFEu;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<std::uint64_t>::attach(memory.span(), 4).value();
    for (std::uint64_t i = 0; i < 10; ++i) {
        const std::array<std::uint64_t, 3> in{i, i + 100, i + 200};
        REQUIRE(producer.try_push(in).value() == 3);
        std::array<std::uint64_t, 4> out{};
        REQUIRE(consumer.try_pop(out).value() == 3);
        CHECK(out[0] == i);
        CHECK(out[2] == i + 200);
    }
    CHECK(memory.header().producer_index == 0xFFFFFFFEu + 30u);
}

TEST_CASE("ring: a producer index outside [consumer, consumer + capacity] is CorruptRing") {
    RingMemory<std::uint64_t, 4> memory;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<std::uint64_t>::attach(memory.span(), 4).value();
    const std::array<std::uint64_t, 3> in{1, 2, 3};
    REQUIRE(producer.try_push(in).value() == 3);
    std::array<std::uint64_t, 3> out{};
    REQUIRE(consumer.try_pop(out).value() == 3);

    SUBCASE("too far ahead") { memory.header().producer_index = 3 + 5; }
    SUBCASE("behind the consumer") { memory.header().producer_index = 2; }
    SUBCASE("wildly off") { memory.header().producer_index = 0x80000000u; }

    auto popped = consumer.try_pop(out);
    REQUIRE_FALSE(popped.ok());
    CHECK(popped.error().code == ErrorCode::CorruptRing);
    CHECK(consumer.available().error().code == ErrorCode::CorruptRing);
}

TEST_CASE("ring: a consumer index outside [producer - capacity, producer] is CorruptRing") {
    RingMemory<std::uint64_t, 4> memory;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 4).value();
    const std::array<std::uint64_t, 4> in{1, 2, 3, 4};
    REQUIRE(producer.try_push(in).value() == 4);  // full: the next push must read the consumer index

    SUBCASE("ahead of the producer") { memory.header().consumer_index = 5; }
    SUBCASE("far behind") { memory.header().consumer_index = 0xFFFFFF00u; }

    auto pushed = producer.try_push(std::span(in).first(1));
    REQUIRE_FALSE(pushed.ok());
    CHECK(pushed.error().code == ErrorCode::CorruptRing);
}

TEST_CASE("ring: attaching to a corrupt ring fails") {
    RingMemory<std::uint64_t, 4> memory;
    memory.header().producer_index = 100;
    memory.header().consumer_index = 0;
    CHECK(RingConsumer<std::uint64_t>::attach(memory.span(), 4).error().code == ErrorCode::CorruptRing);
    CHECK(RingProducer<std::uint64_t>::attach(memory.span(), 4).error().code == ErrorCode::CorruptRing);
}

TEST_CASE("ring: attach checks capacity, size and alignment") {
    RingMemory<std::uint64_t, 8> memory;
    CHECK(RingProducer<std::uint64_t>::attach(memory.span(), 6).error().code == ErrorCode::InvalidArgument);
    CHECK(RingProducer<std::uint64_t>::attach(memory.span(), 0).error().code == ErrorCode::InvalidArgument);
    CHECK(RingProducer<std::uint64_t>::attach(memory.span(), 16).error().code == ErrorCode::InvalidArgument);
    CHECK(RingConsumer<std::uint64_t>::attach(memory.span().subspan(8), 4).error().code ==
          ErrorCode::InvalidArgument);
    CHECK(RingConsumer<std::uint64_t>::attach(memory.span(), 8).ok());
}

TEST_CASE("ring: two threads, random batch sizes, every value once and in order") {
    constexpr std::uint64_t count = 300'000;
    RingMemory<std::uint64_t, 64> memory;
    auto producer = RingProducer<std::uint64_t>::attach(memory.span(), 64).value();
    auto consumer = RingConsumer<std::uint64_t>::attach(memory.span(), 64).value();

    std::thread producing([&producer] {
        std::minstd_rand random(1);
        std::array<std::uint64_t, 48> batch{};
        std::uint64_t next = 0;
        while (next < count) {
            const auto size = std::min<std::uint64_t>(1 + random() % batch.size(), count - next);
            for (std::uint64_t i = 0; i < size; ++i) batch[i] = next + i;
            const auto pushed = producer.try_push(std::span(batch).first(size)).value();
            next += pushed;
            if (pushed == 0) std::this_thread::yield();
        }
    });

    std::minstd_rand random(2);
    std::array<std::uint64_t, 48> batch{};
    std::uint64_t expected = 0;
    std::uint64_t wrong = 0;
    while (expected < count) {
        const auto size = 1 + random() % batch.size();
        const auto popped = consumer.try_pop(std::span(batch).first(size)).value();
        for (std::size_t i = 0; i < popped; ++i)
            if (batch[i] != expected++) ++wrong;
        if (popped == 0) std::this_thread::yield();
    }
    producing.join();
    CHECK(wrong == 0);
    CHECK(expected == count);
}

// Slots publish themselves (ring.hpp): the consumer polls the sequence word
// of the slot it expects next and never reads the producer's index after the
// attach.

TEST_CASE("ring: a slot's sequence word is index + 1 in the ring and zero in the copy taken") {
    RingMemory<milk::Slot, 4> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<milk::Slot>::attach(memory.span(), 4).value();
    const auto* slots = reinterpret_cast<const milk::Slot*>(memory.bytes.data() + sizeof(RingHeader));
    for (std::uint16_t i = 0; i < 11; ++i) {
        milk::Slot slot;
        slot.tag = static_cast<std::uint16_t>(i + 1);
        slot.flags = 0xDEADu;  // the sender's word is not what travels
        REQUIRE(producer.try_push(std::span(&slot, 1)).value() == 1);
        CHECK(slots[i % 4].flags == i + 1u);
        milk::Slot out;
        REQUIRE(consumer.try_pop(std::span(&out, 1)).value() == 1);
        CHECK(out.tag == i + 1);
        CHECK(out.flags == 0);
    }
    // What the producer reads back for a successor is zeroed the same way.
    milk::Slot left;
    left.tag = 99;
    REQUIRE(producer.try_push(std::span(&left, 1)).value() == 1);
    std::array<milk::Slot, 4> unconsumed{};
    REQUIRE(producer.peek_unconsumed(unconsumed).value() == 1);
    CHECK(unconsumed[0].tag == 99);
    CHECK(unconsumed[0].flags == 0);
}

TEST_CASE("ring: a slot is taken by its sequence word, whatever the producer's index says") {
    RingMemory<milk::Slot, 4> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<milk::Slot>::attach(memory.span(), 4).value();
    std::array<milk::Slot, 2> two{};
    two[0].tag = 1;
    two[1].tag = 2;
    REQUIRE(producer.try_push(two).value() == 2);
    // A producer index scribbled on after the attach moves nothing.
    memory.header().producer_index = 0x80000000u;
    std::array<milk::Slot, 4> out{};
    REQUIRE(consumer.try_pop(out).value() == 2);
    CHECK(out[1].tag == 2);
    CHECK(consumer.try_pop(out).value() == 0);
    memory.header().producer_index = 1;  // behind the consumer: still nothing
    CHECK(consumer.available().value() == 0);
}

TEST_CASE("ring: a sequence word neither expected nor a lap before is CorruptRing") {
    RingMemory<milk::Slot, 4> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 4).value();
    auto consumer = RingConsumer<milk::Slot>::attach(memory.span(), 4).value();
    auto* slots = reinterpret_cast<milk::Slot*>(memory.bytes.data() + sizeof(RingHeader));
    // Five through the ring: slot 1 holds sequence 6 (index 5), the rest of
    // the first lap holds 3 and 4, slot 0 holds 5.
    for (int i = 0; i < 5; ++i) {
        milk::Slot slot;
        REQUIRE(producer.try_push(std::span(&slot, 1)).value() == 1);
        REQUIRE(consumer.try_pop(std::span(&slot, 1)).value() == 1);
    }
    // The consumer expects index 5 at slot 1, sequence 6; slot 1 holds 2
    // (a lap before): not ready.
    CHECK(consumer.available().value() == 0);
    SUBCASE("zero is never-written: not ready") {
        slots[1].flags = 0;
        CHECK(consumer.available().value() == 0);
    }
    SUBCASE("a lap ahead") {
        slots[1].flags = 6u + 4u;
        CHECK(consumer.available().error().code == ErrorCode::CorruptRing);
        milk::Slot out;
        CHECK(consumer.try_pop(std::span(&out, 1)).error().code == ErrorCode::CorruptRing);
    }
    SUBCASE("two laps before") {
        slots[1].flags = 6u - 8u;
        CHECK(consumer.available().error().code == ErrorCode::CorruptRing);
    }
    SUBCASE("the one expected is taken once, however often the peer writes it") {
        slots[1].flags = 6;
        milk::Slot out;
        CHECK(consumer.try_pop(std::span(&out, 1)).value() == 1);
        slots[1].flags = 6;  // said again: the consumer now expects index 6 at slot 2
        CHECK(consumer.available().value() == 0);
        CHECK(consumer.try_pop(std::span(&out, 1)).value() == 0);
    }
}

TEST_CASE("ring: slots between two threads, random batch sizes, every one once and in order") {
    constexpr std::uint32_t count = 200'000;
    RingMemory<milk::Slot, 64> memory;
    auto producer = RingProducer<milk::Slot>::attach(memory.span(), 64).value();
    auto consumer = RingConsumer<milk::Slot>::attach(memory.span(), 64).value();

    std::thread producing([&producer] {
        std::minstd_rand random(3);
        std::array<milk::Slot, 48> batch{};
        std::uint32_t next = 0;
        while (next < count) {
            if (random() % 4 == 0) {
                // In place, as the generated send does.
                if (milk::Slot* claimed = producer.try_claim()) {
                    claimed->put<std::uint32_t>(0, next++);
                    producer.publish_claimed();
                } else {
                    std::this_thread::yield();
                }
                continue;
            }
            const auto size = std::min<std::uint32_t>(1 + random() % batch.size(), count - next);
            for (std::uint32_t i = 0; i < size; ++i) batch[i].put<std::uint32_t>(0, next + i);
            const auto pushed = producer.try_push(std::span(batch).first(size)).value();
            next += static_cast<std::uint32_t>(pushed);
            if (pushed == 0) std::this_thread::yield();
        }
    });

    std::minstd_rand random(4);
    std::array<milk::Slot, 48> batch{};
    std::uint32_t expected = 0;
    std::uint32_t wrong = 0;
    while (expected < count) {
        const auto size = 1 + random() % batch.size();
        const auto popped = consumer.try_pop(std::span(batch).first(size)).value();
        for (std::size_t i = 0; i < popped; ++i)
            if (batch[i].get<std::uint32_t>(0) != expected++ || batch[i].flags != 0) ++wrong;
        if (popped == 0) std::this_thread::yield();
    }
    producing.join();
    CHECK(wrong == 0);
    CHECK(expected == count);
}
