// The buffer ownership protocol itself (milk::ExchangeLedger), between two
// ledgers and two real return rings, without a transport: the rules the
// user-space exchange heap and the kernel's end of a channel both apply.
// Each hostile case is a handle an untrusted peer could put in a message.
#include <doctest/doctest.h>

#include <milk/exchange_ledger.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using milk::ChannelSide;
using milk::ErrorCode;
using milk::ExchangeLedger;
using milk::WireBytes;
using Pool = ExchangeLedger::Pool;

constexpr std::uint32_t pool_bytes = 64 * 1024;
constexpr std::uint32_t ring_capacity = pool_bytes / 64;

// One return ring in cache-line-aligned memory: `producer` pushes, `consumer`
// drains, and `header()` is there for a hostile writer.
struct ReturnRing {
    ReturnRing() : memory(milk::ring_region_bytes<WireBytes>(ring_capacity) + 64) {
        auto address = reinterpret_cast<std::uintptr_t>(memory.data());
        base = memory.data() + (64 - address % 64) % 64;
        milk::initialise_ring(base);
        const std::span<std::byte> region(base, milk::ring_region_bytes<WireBytes>(ring_capacity));
        producer = milk::RingProducer<WireBytes>::attach(region, ring_capacity).value();
        consumer = milk::RingConsumer<WireBytes>::attach(region, ring_capacity).value();
    }
    milk::RingHeader& header() { return *reinterpret_cast<milk::RingHeader*>(base); }

    std::vector<std::byte> memory;
    std::byte* base = nullptr;
    milk::RingProducer<WireBytes> producer;
    milk::RingConsumer<WireBytes> consumer;
};

// Two ends of one channel: `first` owns pool 0, `second` pool 1.
// to_first carries first's blocks home (second produces), to_second the
// reverse.
struct Ends {
    ExchangeLedger first = ExchangeLedger::try_create(ChannelSide::First, pool_bytes).value();
    ExchangeLedger second = ExchangeLedger::try_create(ChannelSide::Second, pool_bytes).value();
    ReturnRing to_first;
    ReturnRing to_second;
};

// The invariant every test ends with: every byte of each pool is free, held
// or lent.
void check_accounting(const ExchangeLedger& ledger) {
    const auto usage = ledger.usage();
    CHECK(usage.free_bytes + usage.held_bytes + usage.lent_bytes == usage.pool_bytes);
}

// `from` allocates and sends a block: the wire handle, lent.
WireBytes send_new(ExchangeLedger& from, std::uint32_t bytes) {
    const std::uint32_t offset = from.allocate(bytes).value();
    from.lend(offset);
    return WireBytes{offset, bytes};
}

}  // namespace

TEST_CASE("ledger: a block goes out, is dropped by the peer, and comes home on the return ring") {
    Ends ends;
    const WireBytes handle = send_new(ends.first, 1000);
    CHECK(handle.offset < pool_bytes);  // side First allocates from pool 0
    CHECK(ends.first.usage().lent_blocks == 1);

    REQUIRE(ends.second.accept(handle).value() == Pool::Peer);
    CHECK(ends.second.regions_held_from_peer() == 1);
    ends.second.return_to_peer(handle, ends.to_first.producer);
    CHECK(ends.second.regions_held_from_peer() == 0);

    REQUIRE(ends.first.drain_returns(ends.to_first.consumer).ok());
    CHECK(ends.first.free_bytes() == pool_bytes);
    CHECK(ends.first.rejected_returns() == 0);
    check_accounting(ends.first);
}

TEST_CASE("ledger: a block handed back in a message is the owner's again, and then freed by it") {
    Ends ends;
    const WireBytes handle = send_new(ends.second, 300);
    CHECK(handle.offset >= pool_bytes);  // side Second allocates from pool 1
    REQUIRE(ends.first.accept(handle).value() == Pool::Peer);
    ends.first.hand_back(handle);
    REQUIRE(ends.second.accept(handle).value() == Pool::Own);
    CHECK(ends.second.usage().held_blocks == 1);
    CHECK(ends.second.usage().lent_blocks == 0);
    ends.second.free_held(handle.offset);
    CHECK(ends.second.free_bytes() == pool_bytes);
    check_accounting(ends.second);
}

TEST_CASE("ledger: hostile handles are refused and change nothing") {
    Ends ends;
    const WireBytes lent = send_new(ends.first, 128);
    REQUIRE(ends.second.accept(lent).ok());

    SUBCASE("the same region twice") {
        CHECK(ends.second.accept(lent).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("a region overlapping one held") {
        CHECK(ends.second.accept(WireBytes{lent.offset + 64, 8}).error().code == ErrorCode::BadBuffer);
        CHECK(ends.second.accept(WireBytes{lent.offset + 127, 1}).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("out of both pools, and wrapping 32 bits") {
        CHECK(ends.second.accept(WireBytes{2 * pool_bytes, 1}).error().code == ErrorCode::BadBuffer);
        CHECK(ends.second.accept(WireBytes{0xffffffc0u, 0x80}).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("across the border between the pools") {
        CHECK(ends.second.accept(WireBytes{pool_bytes - 64, 128}).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("a block of the receiver's own pool that it never lent") {
        const std::uint32_t mine = ends.second.allocate(64).value();  // held, not lent
        CHECK(ends.second.accept(WireBytes{mine, 64}).error().code == ErrorCode::BadBuffer);
        CHECK(ends.second.accept(WireBytes{pool_bytes + 4096, 64}).error().code == ErrorCode::BadBuffer);
        CHECK(ends.second.usage().held_blocks == 1);
    }
    SUBCASE("a lent block handed back longer than it is") {
        const WireBytes back = send_new(ends.second, 64);
        CHECK(ends.second.accept(WireBytes{back.offset, 65}).error().code == ErrorCode::BadBuffer);
        CHECK(ends.second.usage().lent_blocks == 1);
        CHECK(ends.second.accept(WireBytes{back.offset + 64, 0}).error().code == ErrorCode::BadBuffer);
    }
    CHECK(ends.second.regions_held_from_peer() == 1);
    check_accounting(ends.first);
    check_accounting(ends.second);
}

TEST_CASE("ledger: an empty handle is a region too: it cannot be held twice, and it goes home") {
    Ends ends;
    const WireBytes empty = send_new(ends.first, 0);
    CHECK(empty.length == 0);
    REQUIRE(ends.second.accept(empty).ok());
    CHECK(ends.second.accept(empty).error().code == ErrorCode::BadBuffer);
    ends.second.return_to_peer(empty, ends.to_first.producer);
    REQUIRE(ends.first.drain_returns(ends.to_first.consumer).ok());
    CHECK(ends.first.free_bytes() == pool_bytes);
}

TEST_CASE("ledger: forged and repeated returns free nothing, a block returned and handed back counts once") {
    Ends ends;
    const WireBytes lent = send_new(ends.first, 256);
    const std::uint32_t held = ends.first.allocate(64).value();
    const WireBytes forged[] = {
        WireBytes{held, 64},                // held, never lent
        WireBytes{lent.offset + 64, 64},    // inside a lent block
        WireBytes{pool_bytes + 64, 64},     // the peer's own pool
        WireBytes{0xffffffffu, 0},          // nowhere
    };
    for (const WireBytes& entry : forged) REQUIRE(ends.to_first.producer.try_push(std::span(&entry, 1)).value() == 1);
    REQUIRE(ends.first.drain_returns(ends.to_first.consumer).ok());
    CHECK(ends.first.rejected_returns() == 4);
    CHECK(ends.first.usage().lent_blocks == 1);
    CHECK(ends.first.usage().held_blocks == 1);

    // The peer returns the block on the ring AND hands it back in a message:
    // exactly one of the two wins.
    REQUIRE(ends.to_first.producer.try_push(std::span(&lent, 1)).value() == 1);
    REQUIRE(ends.first.drain_returns(ends.to_first.consumer).ok());
    CHECK(ends.first.accept(lent).error().code == ErrorCode::BadBuffer);
    REQUIRE(ends.to_first.producer.try_push(std::span(&lent, 1)).value() == 1);
    REQUIRE(ends.first.drain_returns(ends.to_first.consumer).ok());
    CHECK(ends.first.rejected_returns() == 5);
    ends.first.free_held(held);
    CHECK(ends.first.free_bytes() == pool_bytes);
    check_accounting(ends.first);
}

TEST_CASE("ledger: a broken return ring is reported, and stays reported, allocation goes on") {
    Ends ends;
    const WireBytes lent = send_new(ends.first, 64);
    // The peer moves the producer index past what the ring can hold.
    ends.to_first.header().producer_index = ring_capacity + 5;
    CHECK(ends.first.drain_returns(ends.to_first.consumer).error().code == ErrorCode::CorruptRing);
    CHECK(ends.first.drain_returns(ends.to_first.consumer).error().code == ErrorCode::CorruptRing);
    CHECK(ends.first.usage().lent_blocks == 1);  // lost to the peer, not freed
    CHECK(ends.first.allocate(64).ok());
    static_cast<void>(lent);
    check_accounting(ends.first);
}

TEST_CASE("ledger: try_lend lends only a block we hold, no longer than it is") {
    Ends ends;
    const std::uint32_t offset = ends.second.allocate(100).value();  // a 128-byte block
    CHECK_FALSE(ends.second.try_lend(WireBytes{offset, 129}));
    CHECK_FALSE(ends.second.try_lend(WireBytes{offset + 64, 8}));
    CHECK_FALSE(ends.second.try_lend(WireBytes{0, 8}));  // the peer's pool
    CHECK(ends.second.try_lend(WireBytes{offset, 128}));
    CHECK_FALSE(ends.second.try_lend(WireBytes{offset, 128}));  // lent already
    CHECK(ends.second.usage().lent_blocks == 1);
}

TEST_CASE("ledger: a lost return is counted when the peer's return ring is full") {
    Ends ends;
    // The peer (first) never drains: fill its return ring with our returns.
    for (std::uint32_t i = 0; i < ring_capacity; ++i) {
        const WireBytes entry{0, 0};
        REQUIRE(ends.to_first.producer.try_push(std::span(&entry, 1)).value() == 1);
    }
    const WireBytes handle = send_new(ends.first, 64);
    REQUIRE(ends.second.accept(handle).ok());
    ends.second.return_to_peer(handle, ends.to_first.producer);
    CHECK(ends.second.usage().lost_returns == 1);
    CHECK(ends.second.regions_held_from_peer() == 0);
}
