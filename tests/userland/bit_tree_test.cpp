// milk::BitTree against std::set, at sizes that need one to four levels.
#include <doctest/doctest.h>

#include <milk/bit_tree.hpp>

#include <cstddef>
#include <iterator>
#include <random>
#include <set>

using milk::BitTree;

namespace {

std::size_t reference_at_or_before(const std::set<std::size_t>& members, std::size_t index) {
    auto it = members.upper_bound(index);
    return it == members.begin() ? BitTree::none : *std::prev(it);
}

std::size_t reference_at_or_after(const std::set<std::size_t>& members, std::size_t index) {
    auto it = members.lower_bound(index);
    return it == members.end() ? BitTree::none : *it;
}

}  // namespace

TEST_CASE("bit tree: an empty tree has no member in either direction") {
    for (std::size_t size : {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{4097}, std::size_t{1} << 20}) {
        auto tree = BitTree::try_create(size).value();
        CHECK(tree.find_at_or_before(0) == BitTree::none);
        CHECK(tree.find_at_or_before(size - 1) == BitTree::none);
        CHECK(tree.find_at_or_after(0) == BitTree::none);
        CHECK(tree.find_at_or_after(size - 1) == BitTree::none);
    }
}

TEST_CASE("bit tree: the two ends of a large tree find each other across every level") {
    const std::size_t size = std::size_t{1} << 22;  // four levels
    auto tree = BitTree::try_create(size).value();
    tree.set(0);
    tree.set(size - 1);
    CHECK(tree.find_at_or_after(1) == size - 1);
    CHECK(tree.find_at_or_before(size - 2) == 0);
    tree.clear(0);
    CHECK(tree.find_at_or_before(size - 2) == BitTree::none);
    CHECK(tree.find_at_or_before(size - 1) == size - 1);
    tree.clear(size - 1);
    CHECK(tree.find_at_or_after(0) == BitTree::none);
}

TEST_CASE("bit tree: random sets and clears agree with std::set") {
    std::mt19937_64 random(42);
    for (std::size_t size : {std::size_t{7}, std::size_t{64}, std::size_t{130}, std::size_t{5000}, std::size_t{300000}}) {
        CAPTURE(size);
        auto tree = BitTree::try_create(size).value();
        std::set<std::size_t> members;
        std::uniform_int_distribution<std::size_t> any(0, size - 1);
        for (int step = 0; step < 20000; ++step) {
            const std::size_t index = any(random);
            // Sparse at first, then denser, then thinned out again.
            if (random() % 3 != 0 || step > 15000) {
                if (members.count(index) != 0) {
                    tree.clear(index);
                    members.erase(index);
                } else if (step < 12000) {
                    tree.set(index);
                    members.insert(index);
                }
            } else {
                tree.set(index);
                members.insert(index);
            }
            const std::size_t probe = any(random);
            REQUIRE(tree.test(probe) == (members.count(probe) != 0));
            REQUIRE(tree.find_at_or_before(probe) == reference_at_or_before(members, probe));
            REQUIRE(tree.find_at_or_after(probe) == reference_at_or_after(members, probe));
        }
    }
}
