// libFuzzer target: the exchange heap's handle checks (ExchangeHeapSide::
// import_buffer, behind ChannelEnd::import_buffer). A `bytes` field reaches
// the receiver as a bare {offset, length} that the peer chose; importing it
// must refuse anything that is not a region the peer may hand over, and must
// never give two live buffers the same memory.
//
// Input: records of 9 bytes, {op, u32 offset, u32 length} (little endian).
//   op % 4 == 0  the sender allocates (length % 8192 + 1) bytes and exports
//                the buffer: a genuine handle, remembered
//   op % 4 == 1  the receiver imports {offset, length} as given
//   op % 4 == 2  the receiver imports a remembered genuine handle (picked by
//                offset), with its length changed by `length % 3 - 1`
//   op % 4 == 3  the receiver drops one of the buffers it holds (it goes
//                home through the return ring)
// After each successful import, the buffer must lie inside the sender's pool,
// have the length asked for, not overlap another live imported buffer, and
// be readable and writable end to end (ASan checks that).
#include <milk/channel.hpp>
#include <milk/inproc.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

constexpr std::uint32_t pool_bytes = 64 * 1024;

std::uint32_t read_u32(const std::uint8_t* bytes) {
    std::uint32_t value = 0;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 9 * 64) return -1;
    milk::Result<milk::ChannelPair> opened = milk::inproc::open_channel(
        {.ring_capacity = 16, .heap_bytes_per_side = pool_bytes, .spin_budget = {},
         .wait_mode = milk::WaitMode::Poll});
    if (!opened.ok()) std::abort();
    milk::ChannelPair pair = std::move(opened).value();
    milk::ChannelEnd& sender = pair.first;
    milk::ChannelEnd& receiver = pair.second;

    std::vector<milk::WireBytes> genuine;
    std::vector<milk::Buffer> held;
    // The wire offsets of the sender's pool: the first pool of the heap
    // (docs/runtime.md), [0, pool_bytes).
    auto inside_sender_pool = [](const milk::Buffer& buffer) {
        return buffer.heap_offset() + std::uint64_t{buffer.size()} <= pool_bytes;
    };

    for (std::size_t at = 0; at + 9 <= size; at += 9) {
        const std::uint8_t op = data[at] % 4;
        const std::uint32_t offset = read_u32(data + at + 1);
        const std::uint32_t length = read_u32(data + at + 5);
        if (op == 0) {
            milk::Result<milk::Buffer> buffer = sender.allocate(length % 8192 + 1);
            if (!buffer.ok()) continue;  // the pool is full: allowed
            milk::Result<milk::WireBytes> wire = sender.export_buffer(std::move(buffer).value());
            if (!wire.ok()) std::abort();
            if (genuine.size() < 16) genuine.push_back(wire.value());
            continue;
        }
        if (op == 3) {
            if (!held.empty()) held.erase(held.begin() + static_cast<std::ptrdiff_t>(offset % held.size()));
            continue;
        }
        milk::WireBytes wire{offset, length};
        if (op == 2) {
            if (genuine.empty()) continue;
            wire = genuine[offset % genuine.size()];
            wire.length += length % 3 - 1;
        }
        milk::Result<milk::Buffer> imported = receiver.import_buffer(wire);
        if (!imported.ok()) continue;
        milk::Buffer buffer = std::move(imported).value();
        if (!buffer.valid()) {
            // Only the empty handle imports as an empty buffer.
            if (wire.offset != 0 || wire.length != 0) std::abort();
            continue;
        }
        if (buffer.heap_offset() != wire.offset || buffer.size() != wire.length) std::abort();
        if (!inside_sender_pool(buffer)) std::abort();
        for (const milk::Buffer& other : held) {
            const std::uint64_t a = buffer.heap_offset();
            const std::uint64_t b = other.heap_offset();
            if (a < b + other.size() && b < a + buffer.size()) std::abort();
        }
        std::memset(buffer.data(), 0x5a, buffer.size());
        if (held.size() < 16) held.push_back(std::move(buffer));
    }
    return 0;
}
