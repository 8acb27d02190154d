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
    pool.set_state(offset, State::Lent);
    CHECK(pool.state(offset) == State::Lent);
    CHECK(pool.block_size(offset) == 256);
    pool.set_state(offset, State::Held);
    CHECK(pool.state(offset) == State::Held);
    pool.free(offset);
    CHECK(pool.state(offset) == State::NotAllocated);
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
