// libFuzzer target: the generated C++ decoders (milk_decode() of a generated
// header, behind a typed endpoint's receive()). Whatever a peer writes into
// the ring, a typed endpoint either hands a handler a message that satisfies
// the contract, or refuses it with an error and closes the channel: it never
// reads outside the slot or the heap, never calls a handler with a bad enum
// or bool, and never leaks or double-frees a buffer it imported.
//
// The contract is tests/generated/contracts/shapes.contract (every kind of
// field: nested structs, arrays of enums and bools, enums of each width, two
// `bytes` in one message). A raw milk::ChannelEnd plays the client and sends
// the input, 64 bytes at a time, as slots; the typed server in state Open
// receives them one by one until it refuses one or reaches Closing. Before
// that, the raw side allocates and exports two buffers, so that some handles
// in the input (the seeds have them) name real regions of its pool.
#include "shapes.hpp"

#include <milk/inproc.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace shapes = test::shapes::Shapes;
namespace types = test::shapes;  // the file-level enums and structs
using Open = shapes::Server<shapes::state::Open>;
using Closing = shapes::Server<shapes::state::Closing>;

bool is_color(types::Color color) {
    return color == types::Color::red || color == types::Color::green || color == types::Color::blue;
}

// Reads every byte of an imported buffer, so that ASan sees a buffer that
// reaches outside the mapping.
void touch(const milk::Buffer& buffer) {
    if (!buffer.valid()) return;  // an empty handle {0, 0} imports as an empty buffer
    volatile std::byte sink{};
    for (std::byte b : buffer.bytes()) sink = b;
    static_cast<void>(sink);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > milk::slot_size * 16) return -1;
    // A small channel: the ring and heap are created per input.
    milk::Result<milk::ChannelPair> opened = milk::inproc::open_channel(
        {.ring_capacity = 16, .heap_bytes_per_side = 64 * 1024, .spin_budget = {},
         .wait_mode = milk::inproc::WaitMode::Poll});
    if (!opened.ok()) std::abort();
    milk::ChannelPair pair = std::move(opened).value();
    milk::ChannelEnd raw = std::move(pair.first);
    std::optional<Open> server(shapes::server(std::move(pair.second)));

    // Two real buffers of the raw side's pool, handed over as a sender would.
    for (std::size_t bytes : {std::size_t{100}, std::size_t{4096}}) {
        milk::Result<milk::Buffer> buffer = raw.allocate(bytes);
        if (!buffer.ok()) std::abort();
        if (!raw.export_buffer(std::move(buffer).value()).ok()) std::abort();
    }

    for (std::size_t at = 0; at < size && server; at += milk::slot_size) {
        milk::Slot slot;
        std::memcpy(static_cast<void*>(&slot), data + at, std::min(milk::slot_size, size - at));
        if (!raw.send(slot).ok()) break;
        auto received = std::move(*server).receive(
            [](shapes::Draw&& draw, Open&& next) -> std::optional<Open> {
                if (!is_color(draw.segment.color)) std::abort();
                for (types::Color color : draw.palette) {
                    if (!is_color(color)) std::abort();
                }
                return std::move(next);
            },
            [](shapes::Mark&& mark, Open&& next) -> std::optional<Open> {
                if (mark.level != types::Level::low && mark.level != types::Level::high) std::abort();
                return std::move(next);
            },
            [](shapes::Blob&& blob, Open&& next) -> std::optional<Open> {
                touch(blob.first);
                touch(blob.second);
                return std::move(next);
            },
            [](shapes::Grant&& grant, Open&& next) -> std::optional<Open> {
                // Whatever the fuzzer sent, a decoded flags value has no bit
                // but the flags.
                if (!is_valid(grant.access) || !is_valid(grant.more[0]) || !is_valid(grant.more[1])) std::abort();
                return std::move(next);
            },
            [](shapes::Done&&, Closing&&) -> std::optional<Open> { return std::nullopt; });
        server.reset();
        if (!received.ok()) break;
        server = std::move(received).value();
    }
    return 0;
}
