// The exchange heap through the transport: zero-copy moves, returns, the
// import checks and the export rule.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <milk/inproc.hpp>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using milk::Buffer;
using milk::Deadline;
using milk::ErrorCode;
using milk::WireBytes;
using milk::test::handle_slot;
using milk::test::open_raw_channel;

constexpr std::uint32_t pool_bytes = 64 * 1024;

void fill(Buffer& buffer, std::uint8_t seed) {
    auto bytes = buffer.bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(static_cast<std::uint8_t>(seed + i));
}

bool holds_pattern(const Buffer& buffer, std::uint8_t seed) {
    auto bytes = buffer.bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i)
        if (bytes[i] != std::byte(static_cast<std::uint8_t>(seed + i))) return false;
    return true;
}

// Sends `buffer` from `from` to `to` as a real message and imports it there.
template <typename From, typename To>
Buffer pass(From& from, To& to, Buffer&& buffer) {
    const WireBytes wire = from.export_buffer(std::move(buffer)).value();
    from.send(handle_slot(wire)).value();
    const auto slot = to.receive(Deadline::now()).value();
    return to.import_buffer(slot.template get<WireBytes>(0)).value();
}

}  // namespace

TEST_CASE("heap: a buffer moves, not copies: same address on both ends, content intact") {
    auto [client, server] = milk::inproc::open_channel().value();
    Buffer sent = client.allocate(4096).value();
    fill(sent, 7);
    std::byte* const address = sent.data();
    const auto offset = sent.heap_offset();

    Buffer received = pass(client, server, std::move(sent));
    CHECK_FALSE(sent.valid());  // NOLINT(bugprone-use-after-move): checking the move itself
    CHECK(received.data() == address);
    CHECK(received.heap_offset() == offset);
    CHECK(received.size() == 4096);
    CHECK(holds_pattern(received, 7));
}

TEST_CASE("heap: truncate travels: the receiver sees the shortened length") {
    auto [client, server] = milk::inproc::open_channel().value();
    Buffer sent = client.allocate(4096).value();
    fill(sent, 1);
    sent.truncate(100);
    Buffer received = pass(client, server, std::move(sent));
    CHECK(received.size() == 100);
    CHECK(holds_pattern(received, 1));
}

TEST_CASE("heap: dropping received buffers gives the memory back to the sender") {
    auto channel = open_raw_channel(256, pool_bytes);
    auto& sender = *channel.first;
    auto& receiver = *channel.second;

    std::vector<Buffer> buffers;
    for (;;) {
        auto buffer = sender.allocate(4096);
        if (!buffer.ok()) {
            CHECK(buffer.error().code == ErrorCode::OutOfMemory);
            break;
        }
        buffers.push_back(std::move(buffer).value());
    }
    REQUIRE(buffers.size() == pool_bytes / 4096);
    CHECK(sender.heap().free_bytes() == 0);

    std::vector<Buffer> received;
    for (auto& buffer : buffers) received.push_back(pass(sender, receiver, std::move(buffer)));
    CHECK(receiver.heap().regions_held_from_peer() == received.size());
    CHECK(sender.allocate(4096).error().code == ErrorCode::OutOfMemory);  // still all lent

    received.clear();  // the receiver drops them: onto the return ring
    CHECK(receiver.heap().regions_held_from_peer() == 0);
    // The sender's next allocation drains the return ring first.
    std::vector<Buffer> again;
    for (std::size_t i = 0; i < pool_bytes / 4096; ++i) again.push_back(sender.allocate(4096).value());
    CHECK(sender.allocate(64).error().code == ErrorCode::OutOfMemory);
    CHECK(sender.heap().rejected_returns() == 0);
}

TEST_CASE("heap: dropping a buffer never sent frees it at once") {
    auto channel = open_raw_channel(256, pool_bytes);
    { auto buffer = channel.first->allocate(pool_bytes).value(); }
    CHECK(channel.first->heap().free_bytes() == pool_bytes);
    CHECK(channel.first->allocate(pool_bytes).ok());
}

TEST_CASE("heap: import rejects handles that are out of bounds, overlapping, or in the wrong pool") {
    auto channel = open_raw_channel(256, pool_bytes);
    auto& sender = *channel.first;     // pool 0: [0, pool_bytes)
    auto& receiver = *channel.second;  // pool 1: [pool_bytes, 2 * pool_bytes)

    SUBCASE("beyond the heap") {
        const auto result = receiver.import_buffer(WireBytes{3 * pool_bytes, 16});
        CHECK(result.error().code == ErrorCode::BadBuffer);
        CHECK(result.error().detail == 3 * pool_bytes);
    }
    SUBCASE("starts inside the sender's pool, ends past it") {
        CHECK(receiver.import_buffer(WireBytes{pool_bytes - 8, 16}).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("offset + length overflows 32 bits") {
        CHECK(receiver.import_buffer(WireBytes{0xFFFFFFF0u, 0x20}).error().code == ErrorCode::BadBuffer);
        CHECK(receiver.import_buffer(WireBytes{16, 0xFFFFFFF8u}).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("a handle into the receiver's own pool that it never lent") {
        CHECK(receiver.import_buffer(WireBytes{pool_bytes, 64}).error().code == ErrorCode::BadBuffer);
        auto own = receiver.allocate(64).value();  // held, not lent: still not importable
        CHECK(receiver.import_buffer(WireBytes{own.heap_offset(), 64}).error().code == ErrorCode::BadBuffer);
    }
    SUBCASE("the same buffer twice, or a region overlapping a held one") {
        auto pad = sender.allocate(1024).value();  // so that the buffer below has a neighbour before it
        auto buffer = sender.allocate(1024).value();
        const auto offset = buffer.heap_offset();
        REQUIRE(offset >= 1024);
        const auto wire = sender.export_buffer(std::move(buffer)).value();
        auto held = receiver.import_buffer(wire).value();
        CHECK(receiver.import_buffer(wire).error().code == ErrorCode::BadBuffer);
        CHECK(receiver.import_buffer(WireBytes{offset + 512, 16}).error().code == ErrorCode::BadBuffer);
        CHECK(receiver.import_buffer(WireBytes{offset - 64, 128}).error().code == ErrorCode::BadBuffer);
        CHECK(receiver.import_buffer(WireBytes{offset + 1023, 1}).error().code == ErrorCode::BadBuffer);
        CHECK(receiver.import_buffer(WireBytes{offset, 0}).error().code == ErrorCode::BadBuffer);
        // Right before and right after the held region is fine: which
        // regions of its pool the sender hands out is its own business.
        {
            auto before = receiver.import_buffer(WireBytes{offset - 64, 64});
            CHECK(before.ok());
            auto after = receiver.import_buffer(WireBytes{offset + 1024, 16});
            CHECK(after.ok());
            CHECK(receiver.heap().regions_held_from_peer() == 3);
            // Regions are held by 64-byte unit: one sharing a unit with a
            // held region overlaps it, even where the bytes do not.
            CHECK(receiver.import_buffer(WireBytes{offset + 1024 + 16, 8}).error().code == ErrorCode::BadBuffer);
            CHECK(receiver.import_buffer(WireBytes{offset - 1, 1}).error().code == ErrorCode::BadBuffer);
            CHECK(receiver.heap().regions_held_from_peer() == 3);
        }
        CHECK(receiver.heap().regions_held_from_peer() == 1);
    }
    SUBCASE("a region becomes importable again once the receiver dropped it") {
        auto buffer = sender.allocate(64).value();
        const auto wire = sender.export_buffer(std::move(buffer)).value();
        { auto held = receiver.import_buffer(wire).value(); }
        CHECK(receiver.import_buffer(wire).ok());
    }
}

TEST_CASE("heap: a buffer sent back to its owner is the owner's again") {
    auto channel = open_raw_channel(256, pool_bytes);
    auto& owner = *channel.first;
    auto& peer = *channel.second;

    auto buffer = owner.allocate(pool_bytes).value();  // the whole pool
    fill(buffer, 3);
    std::byte* const address = buffer.data();
    auto at_peer = pass(owner, peer, std::move(buffer));
    CHECK(owner.allocate(64).error().code == ErrorCode::OutOfMemory);

    auto back = pass(peer, owner, std::move(at_peer));
    CHECK(back.data() == address);
    CHECK(holds_pattern(back, 3));
    CHECK(peer.heap().regions_held_from_peer() == 0);
    // The owner can lend it again, and the peer import it again.
    auto again = pass(owner, peer, std::move(back));
    CHECK(again.data() == address);
    // Back once more, then dropped by the owner: freed directly.
    auto home = pass(peer, owner, std::move(again));
    { auto dropped = std::move(home); }
    CHECK(owner.heap().free_bytes() == pool_bytes);
    CHECK(owner.heap().rejected_returns() == 0);
    // The owner cannot "re-import" it now: it is no longer lent.
    CHECK(owner.import_buffer(WireBytes{0, 64}).error().code == ErrorCode::BadBuffer);
}

TEST_CASE("heap: export refuses a buffer of another heap and leaves it alone") {
    auto [a, b] = milk::inproc::open_channel().value();
    auto [c, d] = milk::inproc::open_channel().value();
    auto foreign = c.allocate(128).value();

    auto result = a.export_buffer(std::move(foreign));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::InvalidArgument);
    REQUIRE(result.error().what != nullptr);
    CHECK(std::strstr(result.error().what, "another exchange heap") != nullptr);
    CHECK(foreign.valid());  // NOLINT(bugprone-use-after-move): a refused export does not consume

    // The other end of the same channel is another heap side too.
    auto mine = a.allocate(128).value();
    CHECK(b.export_buffer(std::move(mine)).error().code == ErrorCode::InvalidArgument);
    CHECK(mine.valid());  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("heap: the owner ignores return-ring entries that name no block it lent") {
    auto channel = open_raw_channel(256, pool_bytes);
    auto& owner = *channel.first;
    // Play a broken peer: write garbage straight into the ring that returns
    // buffers to side First (the honest side Second pushes nothing here).
    auto bogus = milk::RingProducer<WireBytes>::attach(
                     std::span(channel.region->base() + channel.layout.return_ring_offset[0],
                               milk::ring_region_bytes<WireBytes>(channel.layout.return_ring_capacity)),
                     channel.layout.return_ring_capacity)
                     .value();
    auto held = owner.allocate(64).value();  // held by the owner, never lent
    const WireBytes garbage[] = {{held.heap_offset(), 64}, {pool_bytes + 64, 64}, {0xFFFFFFC0u, 64}, {32, 64}};
    REQUIRE(bogus.try_push(garbage).value() == 4);
    const auto free_before = owner.heap().free_bytes();
    REQUIRE(owner.heap().drain_returns().ok());
    CHECK(owner.heap().rejected_returns() == 4);
    CHECK(owner.heap().free_bytes() == free_before);
    CHECK(held.data() != nullptr);  // still ours
}

TEST_CASE("heap: buffers outlive both ends of their channel") {
    Buffer survivor;
    Buffer imported;
    {
        auto [a, b] = milk::inproc::open_channel().value();
        survivor = a.allocate(256).value();
        auto other = a.allocate(256).value();
        fill(other, 9);
        imported = pass(a, b, std::move(other));
    }
    fill(survivor, 5);
    CHECK(holds_pattern(survivor, 5));
    CHECK(holds_pattern(imported, 9));
}

TEST_CASE("heap: a closed channel's heap goes away with its last buffer, whatever the peer kept") {
    // Run under the sanitizers, this is the test that the orphaned heap
    // sides are freed exactly once, and not while a buffer still uses them.
    Buffer own_survivor;
    Buffer peer_survivor;
    {
        auto channel = open_raw_channel(256, pool_bytes);
        auto& a = *channel.first;
        auto& b = *channel.second;
        own_survivor = a.allocate(100).value();
        auto lent_forever = a.allocate(64).value();
        const WireBytes wire = a.export_buffer(std::move(lent_forever)).value();  // never imported, never back
        (void)wire;
        auto other = a.allocate(256).value();
        fill(other, 7);
        peer_survivor = pass(a, b, std::move(other));
        auto lent_to_a = b.allocate(64).value();
        auto held_by_a = pass(b, a, std::move(lent_to_a));
        // Dropped here with the channel: a's side is orphaned with one own
        // buffer alive (own_survivor) after held_by_a goes home, b's with
        // one peer region (peer_survivor) and a block a never returned.
    }
    fill(own_survivor, 1);
    CHECK(holds_pattern(own_survivor, 1));
    CHECK(holds_pattern(peer_survivor, 7));
    // The last buffers go on another thread than the one that closed.
    std::thread dropper([&] {
        own_survivor = Buffer{};
        peer_survivor = Buffer{};
    });
    dropper.join();
    CHECK_FALSE(own_survivor.valid());
}

TEST_CASE("heap: buffers dropped on many threads while the channel closes") {
    constexpr int per_thread = 200;
    std::vector<Buffer> first_half;
    std::vector<Buffer> second_half;
    {
        auto channel = open_raw_channel(256, pool_bytes);
        auto& a = *channel.first;
        auto& b = *channel.second;
        for (int i = 0; i < per_thread; ++i) {
            auto buffer = a.allocate(64).value();
            const WireBytes wire = a.export_buffer(std::move(buffer)).value();
            first_half.push_back(b.import_buffer(wire).value());  // a peer region b holds
            second_half.push_back(a.allocate(64).value());        // a block a holds
        }
        std::thread early([&] { first_half.resize(per_thread / 2); });
        second_half.resize(per_thread / 2);
        early.join();
        CHECK(b.heap().regions_held_from_peer() == per_thread / 2);
    }
    std::thread one([&] { first_half.clear(); });
    std::thread other([&] { second_half.clear(); });
    one.join();
    other.join();
    CHECK(first_half.empty());
}

TEST_CASE("heap: buffers cross threads intact, and are freed on the receiver's thread") {
    constexpr int count = 5000;
    auto [client, server] = milk::inproc::open_channel({.ring_capacity = 16, .heap_bytes_per_side = 1u << 16}).value();
    std::thread sender([&client] {
        for (int i = 0; i < count; ++i) {
            // A small pool: allocation only succeeds because the receiver
            // keeps returning buffers.
            milk::Result<Buffer> buffer = client.allocate(1000 + i % 3000);
            while (!buffer.ok()) {
                std::this_thread::yield();
                buffer = client.allocate(1000 + i % 3000);
            }
            fill(buffer.value(), static_cast<std::uint8_t>(i));
            client.send(handle_slot(client.export_buffer(std::move(buffer).value()).value())).value();
        }
    });
    int good = 0;
    for (int i = 0; i < count; ++i) {
        const auto slot = server.receive(Deadline::never()).value();
        auto buffer = server.import_buffer(slot.get<WireBytes>(0)).value();
        if (buffer.size() == static_cast<std::size_t>(1000 + i % 3000) &&
            holds_pattern(buffer, static_cast<std::uint8_t>(i)))
            ++good;
    }
    sender.join();
    CHECK(good == count);
}
