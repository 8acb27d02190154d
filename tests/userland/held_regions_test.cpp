// milk::HeldRegions: overlap by unit, exact release, and large regions.
#include <doctest/doctest.h>

#include <milk/held_regions.hpp>

#include <cstdint>
#include <random>
#include <vector>

using milk::HeldRegions;

TEST_CASE("held regions: a region is refused while one sharing a unit with it is held") {
    auto held = HeldRegions::try_create(1u << 20).value();
    REQUIRE(held.try_hold(4096, 4096));
    CHECK_FALSE(held.try_hold(4096, 4096));      // the same region again
    CHECK_FALSE(held.try_hold(0, 4097));         // its first unit
    CHECK_FALSE(held.try_hold(8191, 1));         // its last unit
    CHECK_FALSE(held.try_hold(0, 1u << 20));     // one covering it
    CHECK_FALSE(held.try_hold(5000, 10));        // one inside it
    CHECK_FALSE(held.try_hold(4160, 0));         // an empty one inside it
    CHECK(held.try_hold(0, 4096));               // the neighbours are free
    CHECK(held.try_hold(8192, 64));
    CHECK(held.count() == 3);
}

TEST_CASE("held regions: only the exact region is released") {
    auto held = HeldRegions::try_create(1u << 20).value();
    REQUIRE(held.try_hold(0, 65536));
    held.release(0, 4096);       // only part of it
    held.release(4096, 61440);   // the rest of it
    held.release(65536, 64);     // never held
    CHECK(held.count() == 1);
    CHECK_FALSE(held.try_hold(60000, 1));
    held.release(0, 65536);
    CHECK(held.count() == 0);
    CHECK(held.try_hold(60000, 1));
}

TEST_CASE("held regions: a region as large as the pool, and empty regions at its edges") {
    const std::uint32_t pool = 256u << 20;
    auto held = HeldRegions::try_create(pool).value();
    REQUIRE(held.try_hold(0, pool));
    CHECK_FALSE(held.try_hold(pool - 64, 0));
    CHECK_FALSE(held.try_hold(0, 0));
    held.release(0, pool);
    CHECK(held.try_hold(0, 0));
    CHECK(held.try_hold(pool - 64, 0));
    CHECK_FALSE(held.try_hold(64, pool - 128 + 1));  // reaches the last unit
    CHECK(held.try_hold(64, pool - 128));
    CHECK(held.count() == 3);
}

TEST_CASE("held regions: random regions agree with a per-unit reference") {
    const std::uint32_t pool = 1u << 18;
    const std::uint32_t units = pool / HeldRegions::unit_bytes;
    auto held = HeldRegions::try_create(pool).value();
    std::vector<bool> used(units, false);
    struct Region {
        std::uint32_t offset;
        std::uint32_t length;
    };
    std::vector<Region> regions;
    std::mt19937 random(7);
    for (int step = 0; step < 20000; ++step) {
        if (!regions.empty() && random() % 2 == 0) {
            const std::size_t which = random() % regions.size();
            const Region region = regions[which];
            held.release(region.offset, region.length);
            const std::uint32_t last = (region.offset + (region.length == 0 ? 1 : region.length) - 1) / 64;
            for (std::uint32_t unit = region.offset / 64; unit <= last; ++unit) used[unit] = false;
            regions[which] = regions.back();
            regions.pop_back();
            continue;
        }
        // Unaligned offsets and lengths, as a hostile peer may send.
        const std::uint32_t offset = static_cast<std::uint32_t>(random() % pool);
        const std::uint32_t length = static_cast<std::uint32_t>(random() % std::min<std::uint32_t>(pool - offset, 8192));
        const std::uint32_t last = (offset + (length == 0 ? 1 : length) - 1) / 64;
        bool free = true;
        for (std::uint32_t unit = offset / 64; unit <= last; ++unit) free = free && !used[unit];
        REQUIRE(held.try_hold(offset, length) == free);
        if (free) {
            for (std::uint32_t unit = offset / 64; unit <= last; ++unit) used[unit] = true;
            regions.push_back({offset, length});
        }
        REQUIRE(held.count() == regions.size());
    }
}
