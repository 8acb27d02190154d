// milk::BuddyAllocator: size classes, exhaustion, coalescing, block states.
#include <doctest/doctest.h>

#include <milk/buddy_allocator.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

using milk::BuddyAllocator;
using milk::ErrorCode;
using State = BuddyAllocator::BlockState;

TEST_CASE("buddy: sizes round up to powers of two from 64 bytes") {
    auto pool = BuddyAllocator::try_create(4096).value();
    const auto a = pool.allocate(0).value();
    CHECK(pool.block_size(a) == 64);
    const auto b = pool.allocate(65).value();
    CHECK(pool.block_size(b) == 128);
    const auto c = pool.allocate(1000).value();
    CHECK(pool.block_size(c) == 1024);
    CHECK(pool.free_bytes() == 4096 - 64 - 128 - 1024);
    CHECK(pool.allocate(4097).error().code == ErrorCode::OutOfMemory);
    CHECK(pool.allocate(4096).error().code == ErrorCode::OutOfMemory);
}

TEST_CASE("buddy: exhaust with the smallest blocks, free all, get the whole pool back") {
    auto pool = BuddyAllocator::try_create(4096).value();
    std::set<std::uint32_t> offsets;
    for (int i = 0; i < 64; ++i) {
        const auto offset = pool.allocate(64).value();
        CHECK(offset % 64 == 0);
        CHECK(offset < 4096);
        offsets.insert(offset);
    }
    CHECK(offsets.size() == 64);
    CHECK(pool.allocate(1).error().code == ErrorCode::OutOfMemory);
    CHECK(pool.free_bytes() == 0);
    // Free in an order that is neither allocation order nor address order.
    std::vector<std::uint32_t> order(offsets.begin(), offsets.end());
    std::shuffle(order.begin(), order.end(), std::minstd_rand(3));
    for (const auto offset : order) pool.free(offset);
    CHECK(pool.free_bytes() == 4096);
    CHECK(pool.allocate(4096).value() == 0);
}

TEST_CASE("buddy: block states") {
    auto pool = BuddyAllocator::try_create(4096).value();
    const auto offset = pool.allocate(256).value();
    CHECK(pool.state(offset) == State::Held);
    CHECK(pool.state(offset + 64) == State::NotAllocated);  // inside the block
    CHECK(pool.state(offset + 1) == State::NotAllocated);   // not on a 64-byte boundary
    CHECK(pool.state(5000) == State::NotAllocated);         // outside the pool
    CHECK_FALSE(pool.take_back(offset, 256));               // held, not lent
    pool.lend(offset);
    CHECK(pool.state(offset) == State::Lent);
    CHECK(pool.block_size(offset) == 256);
    CHECK_FALSE(pool.take_back(offset, 257));  // longer than the block
    CHECK_FALSE(pool.take_back(offset + 64, 64));
    CHECK_FALSE(pool.take_back(offset + 1, 64));
    CHECK_FALSE(pool.take_back(5000, 64));
    CHECK(pool.state(offset) == State::Lent);
    CHECK(pool.take_back(offset, 256));
    CHECK(pool.state(offset) == State::Held);
    CHECK_FALSE(pool.take_back(offset, 256));  // only once
    pool.free(offset);
    CHECK(pool.state(offset) == State::NotAllocated);
    CHECK_FALSE(pool.take_back(offset, 64));  // a free block is nobody's to take back
}

TEST_CASE("buddy: a lent block is freed by its return or taken back, never both") {
    auto pool = BuddyAllocator::try_create(4096).value();
    const auto offset = pool.allocate(100).value();
    CHECK_FALSE(pool.free_if_lent(offset));  // held
    pool.lend(offset);
    CHECK_FALSE(pool.free_if_lent(offset + 64));
    CHECK_FALSE(pool.free_if_lent(offset + 1));
    CHECK_FALSE(pool.free_if_lent(4096));
    CHECK(pool.free_if_lent(offset));
    CHECK(pool.state(offset) == State::NotAllocated);
    CHECK_FALSE(pool.free_if_lent(offset));  // the same return twice
    CHECK_FALSE(pool.take_back(offset, 64));
    CHECK(pool.free_bytes() == 4096);

    const auto again = pool.allocate(100).value();
    pool.lend(again);
    CHECK(pool.take_back(again, 100));
    CHECK_FALSE(pool.free_if_lent(again));  // taken back first: the return is refused
    CHECK(pool.state(again) == State::Held);
    const auto usage = pool.usage();
    CHECK(usage.held_blocks == 1);
    CHECK(usage.held_bytes == 128);
    CHECK(usage.lent_blocks == 0);
}

TEST_CASE("buddy: frees merge lazily, but an allocation that needs merged blocks gets them") {
    auto pool = BuddyAllocator::try_create(4096).value();
    // The same small block out and back many times: it comes from and goes
    // to the 64-byte free list, and the pool stays whole in bytes.
    std::uint32_t first = pool.allocate(8).value();
    pool.free(first);
    for (int i = 0; i < 100; ++i) {
        const auto offset = pool.allocate(8).value();
        CHECK(offset == first);
        pool.free(offset);
    }
    CHECK(pool.free_bytes() == 4096);
    // Every free block is still split, yet the whole pool can be allocated.
    CHECK(pool.allocate(4096).value() == 0);
    CHECK(pool.allocate(64).error().code == ErrorCode::OutOfMemory);
    pool.free(0);

    // A checkerboard of 64-byte blocks: merging the free ones gives nothing
    // larger than 64 bytes until their neighbours go too.
    std::vector<std::uint32_t> blocks;
    for (int i = 0; i < 64; ++i) blocks.push_back(pool.allocate(64).value());
    std::sort(blocks.begin(), blocks.end());
    for (std::size_t i = 0; i < blocks.size(); i += 2) pool.free(blocks[i]);
    CHECK(pool.allocate(128).error().code == ErrorCode::OutOfMemory);
    CHECK(pool.free_bytes() == 2048);
    for (std::size_t i = 1; i < blocks.size(); i += 2) pool.free(blocks[i]);
    CHECK(pool.allocate(4096).value() == 0);
}

TEST_CASE("buddy: random churn never hands out overlapping blocks and coalesces fully") {
    auto pool = BuddyAllocator::try_create(1u << 16).value();
    std::minstd_rand random(4);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> live;  // offset, size
    std::uint64_t overlaps = 0;
    for (int step = 0; step < 20'000; ++step) {
        if (live.empty() || random() % 3 != 0) {
            auto offset = pool.allocate(1 + random() % 3000);
            if (!offset.ok()) continue;
            const auto size = pool.block_size(offset.value());
            for (const auto& [other, other_size] : live)
                if (offset.value() < other + other_size && other < offset.value() + size) ++overlaps;
            live.emplace_back(offset.value(), size);
        } else {
            const auto index = random() % live.size();
            pool.free(live[index].first);
            live[index] = live.back();
            live.pop_back();
        }
    }
    CHECK(overlaps == 0);
    for (const auto& [offset, size] : live) pool.free(offset);
    CHECK(pool.free_bytes() == (1u << 16));
    CHECK(pool.allocate(1u << 16).ok());
}

TEST_CASE("buddy: pool size must be a power of two in range") {
    CHECK(BuddyAllocator::try_create(1000).error().code == ErrorCode::InvalidArgument);
    CHECK(BuddyAllocator::try_create(32).error().code == ErrorCode::InvalidArgument);
    CHECK(BuddyAllocator::try_create(64).ok());
}
