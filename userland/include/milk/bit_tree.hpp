// milk::BitTree: a set of small integers that answers "the nearest member
// before or after i" in a few word operations, whatever the set's size.
//
// Level 0 is a plain bitmap, one bit per index. Each level above has one bit
// per word of the level below, set when that word is not zero, up to a level
// of one word. Setting or clearing a bit touches one word per level at most;
// finding the nearest member climbs until a word has a candidate, then
// descends by the highest (or lowest) bit of each word. With 64 bits a word,
// four levels cover 16 M indices, so every operation costs a handful of word
// reads however far apart the members are. The exchange heap's record of
// held peer regions (held_regions.hpp) keeps its region starts and ends in
// two of these, so that recording a 256 MiB region costs what a 64-byte one
// does.
//
// Not thread-safe. Freestanding: libmilk and milk.ko compile this same file.
#pragma once

#include "fixed_array.hpp"
#include "result.hpp"

#include <cstddef>
#include <cstdint>

namespace milk {

class BitTree {
public:
    // What the searches return when there is no member in the direction
    // asked.
    static constexpr std::size_t none = ~std::size_t{0};

    BitTree() = default;
    // An empty set of the indices [0, size).
    [[nodiscard]] static Result<BitTree> try_create(std::size_t size);

    // Preconditions for all: index < size().
    [[nodiscard]] bool test(std::size_t index) const;
    void set(std::size_t index);
    void clear(std::size_t index);
    // The greatest member <= index, or none.
    [[nodiscard]] std::size_t find_at_or_before(std::size_t index) const;
    // The least member >= index, or none.
    [[nodiscard]] std::size_t find_at_or_after(std::size_t index) const;

    [[nodiscard]] std::size_t size() const { return m_size; }

private:
    // 64^6 indices: more than any pool a 32-bit offset can address.
    static constexpr std::size_t max_levels = 6;

    [[nodiscard]] std::uint64_t& word(std::size_t level, std::size_t index) {
        return m_words[m_level_begin[level] + index];
    }
    [[nodiscard]] std::uint64_t word(std::size_t level, std::size_t index) const {
        return m_words[m_level_begin[level] + index];
    }

    // Every level's words, level 0 first.
    FixedArray<std::uint64_t> m_words;
    // Where each level starts in m_words, and how many words it has.
    std::size_t m_level_begin[max_levels] = {};
    std::size_t m_level_words[max_levels] = {};
    std::size_t m_levels = 0;
    std::size_t m_size = 0;
};

}  // namespace milk
