// The self-test doubles as the proof that Boost.Hana and the runtime's
// freestanding headers (result.hpp, slot.hpp, ring.hpp) compile and run
// under the kernel's flags: a compile-time table of the ABI structs checked
// by static_assert, and a run-time walk over a tuple of capacities.
#include "self_test.hpp"

#include "milk_uapi.h"

#include <milk/region_layout.hpp>
#include <milk/ring.hpp>
#include <milk/slot.hpp>
#include <milk/snapshot.hpp>

#include <boost/hana/at_key.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/map.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/size.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <cstddef>
#include <cstdint>

namespace milk::kernel {
namespace {

namespace hana = boost::hana;

// The size every user, 32-bit or 64-bit, agrees on for each ABI struct.
constexpr auto abi_sizes = hana::make_map(
    hana::make_pair(hana::type_c<milk_version>, hana::size_c<8>),
    hana::make_pair(hana::type_c<milk_settings>, hana::size_c<264>),
    hana::make_pair(hana::type_c<milk_channel_open>, hana::size_c<456>),
    hana::make_pair(hana::type_c<milk_channel_info>, hana::size_c<192>),
    hana::make_pair(hana::type_c<milk_channel_entry>, hana::size_c<104>),
    hana::make_pair(hana::type_c<milk_channel_list>, hana::size_c<112>),
    hana::make_pair(hana::type_c<milk_component_info>, hana::size_c<120>),
    hana::make_pair(hana::type_c<Slot>, hana::size_c<slot_size>),
    hana::make_pair(hana::type_c<RingHeader>, hana::size_c<2 * cache_line_size>));

static_assert(hana::size(abi_sizes) == hana::size_c<9>);
static_assert(abi_sizes[hana::type_c<milk_version>] == hana::size_c<sizeof(milk_version)>);
static_assert(abi_sizes[hana::type_c<milk_settings>] == hana::size_c<sizeof(milk_settings)>);
static_assert(abi_sizes[hana::type_c<milk_channel_open>] == hana::size_c<sizeof(milk_channel_open)>);
static_assert(abi_sizes[hana::type_c<milk_channel_info>] == hana::size_c<sizeof(milk_channel_info)>);
static_assert(abi_sizes[hana::type_c<milk_component_info>] == hana::size_c<sizeof(milk_component_info)>);
static_assert(abi_sizes[hana::type_c<milk_channel_entry>] == hana::size_c<sizeof(milk_channel_entry)>);
static_assert(abi_sizes[hana::type_c<milk_channel_list>] == hana::size_c<sizeof(milk_channel_list)>);
static_assert(abi_sizes[hana::type_c<Slot>] == hana::size_c<sizeof(Slot)>);
static_assert(abi_sizes[hana::type_c<RingHeader>] == hana::size_c<sizeof(RingHeader)>);

constexpr auto probe_capacities = hana::make_tuple(hana::uint_c<MILK_CHANNEL_MIN_CAPACITY>, hana::uint_c<64>,
                                                   hana::uint_c<MILK_CHANNEL_MAX_CAPACITY>);

// Every ring of a channel's layout starts on a cache line and the message
// rings do not overlap, for the pool sizes at both ends of the ABI's range.
Result<void> check_layout(std::uint32_t capacity) {
    for (std::uint32_t pool : {MILK_CHANNEL_MIN_POOL, MILK_CHANNEL_MAX_POOL}) {
        auto layout = MILK_TRY(ChannelRegionLayout::compute(capacity, pool));
        for (std::size_t offset : {layout.message_ring_offset[0], layout.message_ring_offset[1],
                                   layout.return_ring_offset[0], layout.return_ring_offset[1]})
            if (offset % cache_line_size != 0)
                return Error{ErrorCode::InvalidArgument, "self-test: ring not cache-line aligned", capacity};
        if (layout.message_ring_offset[1] < layout.message_ring_offset[0] + ring_region_bytes<Slot>(capacity))
            return Error{ErrorCode::InvalidArgument, "self-test: rings overlap", capacity};
    }
    return {};
}

// The snapshot format in the kernel: the same bytes user space expects for
// the same snapshot (tests/userland/snapshot_test.cpp, "the layout is
// fixed"), read back with every check. A snapshot written here restores in
// a process and back.
Result<void> check_snapshot() {
    constexpr std::uint8_t expected[] = {
        'M', 'I', 'L', 'K', 'S', 'N', 'A', 'P', 1, 0, 3, 0, 11, 0, 0, 0,
        'd', 'e', 'm', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0xd3, 0xe9, 0x99, 0x0d, 0, 0, 0, 0,
        7, 4, 3, 2, 1, 2, 0, 0, 0, 'h', 'i'};
    std::byte buffer[sizeof(expected)] = {};
    SnapshotWriter out(buffer, "demo", 3);
    out.put_u8(7);
    out.put_u32(0x01020304);
    const std::byte hi[2] = {std::byte{'h'}, std::byte{'i'}};
    out.put_bytes(hi);
    const std::size_t size = MILK_TRY(out.finish());
    if (size != sizeof(expected)) return Error{ErrorCode::InvalidArgument, "self-test: snapshot size", static_cast<std::int64_t>(size)};
    for (std::size_t i = 0; i < size; ++i)
        if (buffer[i] != static_cast<std::byte>(expected[i]))
            return Error{ErrorCode::InvalidArgument, "self-test: snapshot bytes differ", static_cast<std::int64_t>(i)};
    SnapshotReader in = MILK_TRY(SnapshotReader::try_open(std::span<const std::byte>(buffer, size), "demo", 3));
    if (MILK_TRY(in.u8()) != 7 || MILK_TRY(in.u32()) != 0x01020304 || MILK_TRY(in.bytes(2)).size() != 2)
        return Error{ErrorCode::InvalidArgument, "self-test: snapshot read back wrong", 0};
    MILK_TRY(in.finish());
    // A flipped payload byte is refused.
    buffer[size - 1] = std::byte{'j'};
    if (SnapshotReader::try_open(std::span<const std::byte>(buffer, size), "demo", 3).ok())
        return Error{ErrorCode::InvalidArgument, "self-test: corrupt snapshot accepted", 0};
    return {};
}

}  // namespace

Result<int> run_self_test() {
    int checked = 0;
    Result<void> first_failure{};
    hana::for_each(probe_capacities, [&](auto capacity) {
        if (!first_failure.ok()) return;
        if (auto result = check_layout(capacity); !result.ok()) first_failure = result.error();
        ++checked;
    });
    if (!first_failure.ok()) return first_failure.error();
    // Capacities outside the bounds must be refused, not rounded.
    if (ChannelRegionLayout::compute(3, MILK_CHANNEL_MIN_POOL).ok())
        return Error{ErrorCode::InvalidArgument, "self-test: bad capacity accepted", 0};
    MILK_TRY(check_snapshot());
    ++checked;
    return checked;
}

}  // namespace milk::kernel
