// milk::SnapshotWriter / SnapshotReader: a component's state, written in one
// place and read back in another, for live relocation and restart
// (docs/components.md, "Snapshots").
//
// One format for every placement: the user build and milk.ko compile this
// same freestanding code, and the bytes are a fixed little-endian layout
// (not a C++ object), so a snapshot written in the kernel restores in a
// process and back. A snapshot is untrusted input to the reader (it may come
// from a process that was compromised or died mid-write): every read is
// bounds-checked, the header and a checksum are checked before anything
// else, and a reader that does not consume the payload exactly refuses it.
//
//   offset  size  field
//        0     8  magic "MILKSNAP"
//        8     2  format version (snapshot_format_version)
//       10     2  the component's own snapshot version
//       12     4  payload length in bytes
//       16    24  component name, NUL-padded (Component::name)
//       40     4  FNV-1a (32-bit) of the payload
//       44     4  zero
//       48     …  payload: the component's fields in the order it writes
//                 them; scalars little-endian, byte strings as u32 length +
//                 bytes
//
// Neither class allocates or throws: the writer fills a caller's buffer, the
// reader reads from a caller's span.
#pragma once

#include "result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace milk {

inline constexpr std::uint16_t snapshot_format_version = 1;
inline constexpr std::size_t snapshot_header_bytes = 48;
inline constexpr std::size_t snapshot_name_bytes = 24;

class SnapshotWriter {
public:
    // Writes into `buffer` (header first, then the payload). `component` is
    // at most snapshot_name_bytes - 1 bytes.
    SnapshotWriter(std::span<std::byte> buffer, std::string_view component, std::uint16_t version);

    void put_u8(std::uint8_t value) { put_scalar(value, 1); }
    void put_u16(std::uint16_t value) { put_scalar(value, 2); }
    void put_u32(std::uint32_t value) { put_scalar(value, 4); }
    void put_u64(std::uint64_t value) { put_scalar(value, 8); }
    // A byte string: its length (u32), then its bytes.
    void put_bytes(std::span<const std::byte> bytes);

    // Completes the header. The snapshot's size in bytes, or the first
    // problem: the buffer was too small (OutOfMemory, detail: the bytes it
    // needed), or the name too long (InvalidArgument).
    [[nodiscard]] Result<std::size_t> finish();

private:
    void put_scalar(std::uint64_t value, std::size_t width);
    [[nodiscard]] bool reserve(std::size_t bytes);

    std::span<std::byte> m_buffer;
    std::string_view m_component;
    std::uint16_t m_version;
    std::size_t m_used = snapshot_header_bytes;
    std::size_t m_needed = snapshot_header_bytes;
};

class SnapshotReader {
public:
    // Checks the header against what the reader expects: the magic, the
    // format version, `component`'s name, a component version no newer than
    // `newest_version`, the payload length against the span, the checksum.
    // ProtocolViolation, naming the first problem, otherwise.
    [[nodiscard]] static Result<SnapshotReader> try_open(std::span<const std::byte> snapshot,
                                                         std::string_view component, std::uint16_t newest_version);

    // The component version the snapshot was written with (a component that
    // reads older versions branches on it).
    [[nodiscard]] std::uint16_t version() const { return m_version; }

    [[nodiscard]] Result<std::uint8_t> u8();
    [[nodiscard]] Result<std::uint16_t> u16();
    [[nodiscard]] Result<std::uint32_t> u32();
    [[nodiscard]] Result<std::uint64_t> u64();
    // A byte string of at most `max_length` bytes, as a view into the
    // snapshot (copy it out: the caller owns the bytes).
    [[nodiscard]] Result<std::span<const std::byte>> bytes(std::size_t max_length);

    // ProtocolViolation unless every payload byte was read: a snapshot with
    // more in it than the reader understood is not the state it thinks.
    [[nodiscard]] Result<void> finish() const;

private:
    SnapshotReader(std::span<const std::byte> payload, std::uint16_t version) : m_payload(payload), m_version(version) {}
    [[nodiscard]] Result<std::uint64_t> scalar(std::size_t width);

    std::span<const std::byte> m_payload;
    std::size_t m_read = 0;
    std::uint16_t m_version;
};

// FNV-1a, 32 bits: the snapshot's checksum (against torn or stray writes,
// not against an attacker, who can recompute it: the reader's bounds checks
// are what hold against those).
[[nodiscard]] std::uint32_t snapshot_checksum(std::span<const std::byte> bytes);

}  // namespace milk
