// milk::SnapshotWriter / SnapshotReader: the fixed layout, byte for byte,
// and every way a reader refuses a snapshot it must not trust.
#include <doctest/doctest.h>

#include <milk/snapshot.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

using milk::ErrorCode;
using milk::SnapshotReader;
using milk::SnapshotWriter;

namespace {

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
    std::vector<std::byte> out;
    for (int value : values) out.push_back(static_cast<std::byte>(value));
    return out;
}

// A snapshot of component "demo", version 3: u8 7, u32 0x01020304, bytes "hi".
std::vector<std::byte> demo_snapshot() {
    std::vector<std::byte> buffer(128);
    SnapshotWriter out(buffer, "demo", 3);
    out.put_u8(7);
    out.put_u32(0x01020304);
    const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
    out.put_bytes(hi);
    auto size = out.finish();
    REQUIRE(size.ok());
    buffer.resize(size.value());
    return buffer;
}

}  // namespace

// The same bytes are expected by milk.ko's self-test (kernel-stubs/core/
// self_test.cpp): both builds write this format.
TEST_CASE("snapshot: the layout is fixed, little-endian, byte for byte") {
    const std::vector<std::byte> snapshot = demo_snapshot();
    const std::vector<std::byte> expected = bytes_of({
        'M', 'I', 'L', 'K', 'S', 'N', 'A', 'P',  // magic
        1, 0,                                    // format version
        3, 0,                                    // component version
        11, 0, 0, 0,                             // payload bytes
        'd', 'e', 'm', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0xd3, 0xe9, 0x99, 0x0d,  // FNV-1a of the payload
        0, 0, 0, 0,              // reserved
        7, 4, 3, 2, 1, 2, 0, 0, 0, 'h', 'i'});
    CHECK(snapshot == expected);
}

TEST_CASE("snapshot: what is written is read back, in order") {
    std::vector<std::byte> buffer(256);
    SnapshotWriter out(buffer, "files", 2);
    out.put_u8(0xab);
    out.put_u16(0xbeef);
    out.put_u32(0xdeadbeef);
    out.put_u64(0x0123456789abcdefULL);
    out.put_bytes({});
    const std::array<std::byte, 3> three{std::byte{1}, std::byte{2}, std::byte{3}};
    out.put_bytes(three);
    auto size = out.finish();
    REQUIRE(size.ok());
    auto in = SnapshotReader::try_open(std::span(buffer.data(), size.value()), "files", 2);
    REQUIRE(in.ok());
    CHECK(in.value().version() == 2);
    CHECK(in.value().u8().value() == 0xab);
    CHECK(in.value().u16().value() == 0xbeef);
    CHECK(in.value().u32().value() == 0xdeadbeef);
    CHECK(in.value().u64().value() == 0x0123456789abcdefULL);
    CHECK(in.value().bytes(0).value().empty());
    const auto back = in.value().bytes(3).value();
    CHECK((back.size() == 3 && back[2] == std::byte{3}));
    CHECK(in.value().finish().ok());
    // An older component version is read (the component branches on it).
    CHECK(SnapshotReader::try_open(std::span(buffer.data(), size.value()), "files", 5).ok());
}

TEST_CASE("snapshot: a writer reports a buffer too small, with the size it needs, and a name too long") {
    std::array<std::byte, 50> small{};
    SnapshotWriter out(small, "demo", 1);
    out.put_u64(1);
    auto size = out.finish();
    REQUIRE_FALSE(size.ok());
    CHECK(size.error().code == ErrorCode::OutOfMemory);
    CHECK(size.error().detail == 56);
    std::array<std::byte, 64> room{};
    SnapshotWriter named(room, "a-component-name-far-too-long", 1);
    CHECK(named.finish().error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("snapshot: a reader refuses every header it must not trust") {
    const std::vector<std::byte> good = demo_snapshot();
    const auto refused = [](std::vector<std::byte> snapshot, const char* component = "demo",
                            std::uint16_t newest = 3) {
        auto opened = SnapshotReader::try_open(snapshot, component, newest);
        return !opened.ok() && opened.error().code == ErrorCode::ProtocolViolation;
    };
    CHECK(refused(std::vector<std::byte>(good.begin(), good.begin() + 47)));  // shorter than the header
    auto bad_magic = good;
    bad_magic[0] = std::byte{'X'};
    CHECK(refused(bad_magic));
    auto bad_format = good;
    bad_format[8] = std::byte{2};
    CHECK(refused(bad_format));
    CHECK(refused(good, "demo", 2));   // written by a newer version than the reader knows
    auto version_zero = good;
    version_zero[10] = std::byte{0};
    CHECK(refused(version_zero));
    CHECK(refused(good, "other"));     // another component's
    CHECK(refused(good, "dem"));
    auto truncated = good;
    truncated.pop_back();              // the length no longer matches
    CHECK(refused(truncated));
    auto longer = good;
    longer.push_back(std::byte{0});
    CHECK(refused(longer));
    auto flipped = good;
    flipped.back() = std::byte{'j'};   // checksum mismatch
    CHECK(refused(flipped));
    auto reserved = good;
    reserved[44] = std::byte{1};
    CHECK(refused(reserved));
    CHECK_FALSE(refused(good));
}

TEST_CASE("snapshot: a reader refuses fields past the end, strings over their bound, and bytes left over") {
    const std::vector<std::byte> good = demo_snapshot();
    {
        auto in = SnapshotReader::try_open(good, "demo", 3).value();
        CHECK(in.u8().value() == 7);
        CHECK(in.u32().value() == 0x01020304);
        CHECK(in.bytes(1).error().code == ErrorCode::ProtocolViolation);  // "hi" is 2 bytes
    }
    {
        auto in = SnapshotReader::try_open(good, "demo", 3).value();
        CHECK(in.u64().value() != 0);
        CHECK(in.u32().error().code == ErrorCode::ProtocolViolation);  // 3 bytes left
    }
    {
        auto in = SnapshotReader::try_open(good, "demo", 3).value();
        CHECK(in.u8().value() == 7);
        CHECK(in.finish().error().code == ErrorCode::ProtocolViolation);  // 10 bytes not read
    }
    // A byte string whose length runs past the end (the checksum recomputed,
    // as an attacker would).
    std::vector<std::byte> buffer(128);
    SnapshotWriter out(buffer, "demo", 1);
    out.put_u32(1000);  // read back as a byte string's length
    out.put_u8(1);
    const auto size = out.finish().value();
    auto in = SnapshotReader::try_open(std::span(buffer.data(), size), "demo", 1).value();
    CHECK(in.bytes(5000).error().code == ErrorCode::ProtocolViolation);
}
