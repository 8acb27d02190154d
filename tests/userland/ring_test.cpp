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
    claimed->tag = 7;
    // Claimed again until published: the same element.
    CHECK(producer.try_claim() == claimed);
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
