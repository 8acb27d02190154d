// What copying costs: one memcpy of the payload size between two buffers
// that stay in cache (the client's and the server's buffers of the `bytes`
// rows stay in cache too). A transport that copies pays at least this once
// per direction, on top of its fixed cost.
#include "cases.hpp"

#include <cstring>
#include <vector>

namespace milk::bench {

MemcpyRow run_memcpy(const CaseContext& context, std::size_t size) {
    MemcpyRow row;
    row.size = size;
    std::vector<std::byte> source(size, std::byte{1});
    std::vector<std::byte> target(size, std::byte{2});
    row.samples = measure_round_trips(context.bytes, context.clock, [&](std::uint64_t seq) {
        source[0] = static_cast<std::byte>(seq);
        std::memcpy(target.data(), source.data(), size);
        // Tells the compiler the copy is used, so it cannot be dropped or
        // merged with the next one.
        asm volatile("" : : "r"(target.data()) : "memory");
    });
    return row;
}

}  // namespace milk::bench
