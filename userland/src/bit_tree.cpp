// milk::BitTree: a bitmap with a summary bit per word, level over level.
#include "milk/bit_tree.hpp"

namespace milk {
namespace {

constexpr std::size_t word_bits = 64;

std::uint64_t bit(std::size_t index) { return std::uint64_t{1} << (index % word_bits); }

// The bits of a word at positions <= position, and >= position.
std::uint64_t at_or_below(std::size_t position) { return ~std::uint64_t{0} >> (word_bits - 1 - position); }
std::uint64_t at_or_above(std::size_t position) { return ~std::uint64_t{0} << position; }

// The positions of a non-zero word's highest and lowest set bits. The
// builtins compile to one instruction (bsr, bsf) in the kernel build too,
// unlike std::popcount's libgcc call the module cannot link.
std::size_t highest(std::uint64_t word) { return word_bits - 1 - static_cast<std::size_t>(__builtin_clzll(word)); }
std::size_t lowest(std::uint64_t word) { return static_cast<std::size_t>(__builtin_ctzll(word)); }

}  // namespace

Result<BitTree> BitTree::try_create(std::size_t size) {
    BitTree tree;
    tree.m_size = size;
    std::size_t total = 0;
    std::size_t bits = size == 0 ? 1 : size;
    // Levels are added until one word holds the whole level; max_levels
    // bounds the loop for any size a caller can pass.
    for (;;) {
        if (tree.m_levels == max_levels)
            return Error{ErrorCode::InvalidArgument, "bit tree too large", static_cast<std::int64_t>(size)};
        const std::size_t words = (bits + word_bits - 1) / word_bits;
        tree.m_level_begin[tree.m_levels] = total;
        tree.m_level_words[tree.m_levels] = words;
        ++tree.m_levels;
        total += words;
        if (words == 1) break;
        bits = words;
    }
    tree.m_words = MILK_TRY(FixedArray<std::uint64_t>::try_create(total, FixedArray<std::uint64_t>::Fill::Zero));
    return tree;
}

bool BitTree::test(std::size_t index) const { return (word(0, index / word_bits) & bit(index)) != 0; }

void BitTree::set(std::size_t index) {
    for (std::size_t level = 0; level < m_levels; ++level) {
        std::uint64_t& here = word(level, index / word_bits);
        const bool was_empty = here == 0;
        here |= bit(index);
        // The summaries above already say this word has members.
        if (!was_empty) return;
        index /= word_bits;
    }
}

void BitTree::clear(std::size_t index) {
    for (std::size_t level = 0; level < m_levels; ++level) {
        std::uint64_t& here = word(level, index / word_bits);
        here &= ~bit(index);
        // Other members keep this word's summary bit set.
        if (here != 0) return;
        index /= word_bits;
    }
}

std::size_t BitTree::find_at_or_before(std::size_t index) const {
    std::size_t level = 0;
    // Climb: look in the word holding index for a member at or below it;
    // if there is none, ask the level above for the last non-empty word
    // before this one.
    for (;;) {
        const std::size_t at = index / word_bits;
        const std::uint64_t candidates = word(level, at) & at_or_below(index % word_bits);
        if (candidates != 0) {
            index = at * word_bits + highest(candidates);
            break;
        }
        // The top level is one word, so at > 0 means there is a level above.
        if (at == 0) return none;
        index = at - 1;
        ++level;
    }
    // Descend: every summary bit leads to a non-empty word; take its last.
    while (level > 0) {
        --level;
        index = index * word_bits + highest(word(level, index));
    }
    return index;
}

std::size_t BitTree::find_at_or_after(std::size_t index) const {
    std::size_t level = 0;
    for (;;) {
        const std::size_t at = index / word_bits;
        const std::uint64_t candidates = word(level, at) & at_or_above(index % word_bits);
        if (candidates != 0) {
            index = at * word_bits + lowest(candidates);
            break;
        }
        if (at + 1 >= m_level_words[level]) return none;
        index = at + 1;
        ++level;
    }
    while (level > 0) {
        --level;
        index = index * word_bits + lowest(word(level, index));
    }
    return index;
}

}  // namespace milk
