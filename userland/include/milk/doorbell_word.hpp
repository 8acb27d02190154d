// The shared half of a doorbell: one 32-bit word on its own cache line.
//
// Kept apart from doorbell.hpp (which holds the futex-based waiting and pulls
// in <chrono> through deadline.hpp) so that the pure region layout
// (region_layout.hpp) can name it: the kernel module lays out the same region
// and must not see <chrono>.
#pragma once

#include <cstdint>

namespace milk {

// Awake (0) or Sleeping (1); see doorbell.hpp for the protocol. One cache
// line, so that sleeping and waking never share a line with ring indices.
struct alignas(64) DoorbellWord {
    std::uint32_t state;
};
static_assert(sizeof(DoorbellWord) == 64);

}  // namespace milk
