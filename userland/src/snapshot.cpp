// milk::SnapshotWriter / SnapshotReader: the fixed snapshot layout.
#include "milk/snapshot.hpp"

namespace milk {
namespace {

constexpr char snapshot_magic[8] = {'M', 'I', 'L', 'K', 'S', 'N', 'A', 'P'};

void store_le(std::byte* at, std::uint64_t value, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) at[i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
}

std::uint64_t load_le(const std::byte* at, std::size_t width) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value |= std::uint64_t{static_cast<std::uint8_t>(at[i])} << (8 * i);
    return value;
}

Error bad_snapshot(const char* what, std::int64_t detail = 0) {
    return Error{ErrorCode::ProtocolViolation, what, detail};
}

}  // namespace

std::uint32_t snapshot_checksum(std::span<const std::byte> bytes) {
    std::uint32_t hash = 2166136261u;
    for (std::byte byte : bytes) {
        hash ^= static_cast<std::uint8_t>(byte);
        hash *= 16777619u;
    }
    return hash;
}

SnapshotWriter::SnapshotWriter(std::span<std::byte> buffer, std::string_view component, std::uint16_t version)
    : m_buffer(buffer), m_component(component), m_version(version) {}

bool SnapshotWriter::reserve(std::size_t bytes) {
    m_needed += bytes;
    if (m_needed > m_buffer.size()) return false;
    return true;
}

void SnapshotWriter::put_scalar(std::uint64_t value, std::size_t width) {
    // Past the buffer's end, only the needed size is counted: finish()
    // reports it, so the caller can retry with a buffer that fits.
    if (!reserve(width)) return;
    store_le(m_buffer.data() + m_used, value, width);
    m_used += width;
}

void SnapshotWriter::put_bytes(std::span<const std::byte> bytes) {
    put_scalar(bytes.size(), 4);
    if (!reserve(bytes.size())) return;
    for (std::size_t i = 0; i < bytes.size(); ++i) m_buffer[m_used + i] = bytes[i];
    m_used += bytes.size();
}

Result<std::size_t> SnapshotWriter::finish() {
    if (m_component.size() >= snapshot_name_bytes)
        return Error{ErrorCode::InvalidArgument, "snapshot: component name too long", static_cast<std::int64_t>(m_component.size())};
    if (m_needed > m_buffer.size() || m_needed - snapshot_header_bytes > 0xffffffffu)
        return Error{ErrorCode::OutOfMemory, "snapshot: the buffer is too small", static_cast<std::int64_t>(m_needed)};
    std::byte* header = m_buffer.data();
    for (std::size_t i = 0; i < sizeof(snapshot_magic); ++i) header[i] = static_cast<std::byte>(snapshot_magic[i]);
    store_le(header + 8, snapshot_format_version, 2);
    store_le(header + 10, m_version, 2);
    const std::size_t payload = m_used - snapshot_header_bytes;
    store_le(header + 12, payload, 4);
    for (std::size_t i = 0; i < snapshot_name_bytes; ++i)
        header[16 + i] = i < m_component.size() ? static_cast<std::byte>(m_component[i]) : std::byte{0};
    store_le(header + 40, snapshot_checksum(m_buffer.subspan(snapshot_header_bytes, payload)), 4);
    store_le(header + 44, 0, 4);
    return m_used;
}

Result<SnapshotReader> SnapshotReader::try_open(std::span<const std::byte> snapshot, std::string_view component,
                                                std::uint16_t newest_version) {
    if (snapshot.size() < snapshot_header_bytes)
        return bad_snapshot("snapshot: shorter than its header", static_cast<std::int64_t>(snapshot.size()));
    const std::byte* header = snapshot.data();
    for (std::size_t i = 0; i < sizeof(snapshot_magic); ++i)
        if (header[i] != static_cast<std::byte>(snapshot_magic[i])) return bad_snapshot("snapshot: not a milk snapshot");
    const auto format = static_cast<std::uint16_t>(load_le(header + 8, 2));
    if (format != snapshot_format_version) return bad_snapshot("snapshot: unknown format version", format);
    const auto version = static_cast<std::uint16_t>(load_le(header + 10, 2));
    if (version == 0 || version > newest_version)
        return bad_snapshot("snapshot: written by a newer (or no) version of the component", version);
    const std::uint64_t payload = load_le(header + 12, 4);
    if (payload != snapshot.size() - snapshot_header_bytes)
        return bad_snapshot("snapshot: payload length disagrees with its size", static_cast<std::int64_t>(payload));
    if (component.size() >= snapshot_name_bytes) return bad_snapshot("snapshot: component name too long");
    for (std::size_t i = 0; i < snapshot_name_bytes; ++i) {
        const std::byte expected = i < component.size() ? static_cast<std::byte>(component[i]) : std::byte{0};
        if (header[16 + i] != expected) return bad_snapshot("snapshot: of another component");
    }
    if (load_le(header + 44, 4) != 0) return bad_snapshot("snapshot: reserved header bytes are not zero");
    const std::span<const std::byte> body = snapshot.subspan(snapshot_header_bytes);
    if (load_le(header + 40, 4) != snapshot_checksum(body)) return bad_snapshot("snapshot: checksum mismatch");
    return SnapshotReader(body, version);
}

Result<std::uint64_t> SnapshotReader::scalar(std::size_t width) {
    if (m_payload.size() - m_read < width)
        return bad_snapshot("snapshot: ends inside a field", static_cast<std::int64_t>(m_read));
    const std::uint64_t value = load_le(m_payload.data() + m_read, width);
    m_read += width;
    return value;
}

Result<std::uint8_t> SnapshotReader::u8() { return static_cast<std::uint8_t>(MILK_TRY(scalar(1))); }
Result<std::uint16_t> SnapshotReader::u16() { return static_cast<std::uint16_t>(MILK_TRY(scalar(2))); }
Result<std::uint32_t> SnapshotReader::u32() { return static_cast<std::uint32_t>(MILK_TRY(scalar(4))); }
Result<std::uint64_t> SnapshotReader::u64() { return scalar(8); }

Result<std::span<const std::byte>> SnapshotReader::bytes(std::size_t max_length) {
    const std::uint64_t length = MILK_TRY(scalar(4));
    if (length > max_length)
        return bad_snapshot("snapshot: a byte string longer than the reader allows", static_cast<std::int64_t>(length));
    if (m_payload.size() - m_read < length)
        return bad_snapshot("snapshot: a byte string runs past the end", static_cast<std::int64_t>(length));
    const std::span<const std::byte> view = m_payload.subspan(m_read, static_cast<std::size_t>(length));
    m_read += static_cast<std::size_t>(length);
    return view;
}

Result<void> SnapshotReader::finish() const {
    if (m_read != m_payload.size())
        return bad_snapshot("snapshot: bytes left that the reader did not understand",
                            static_cast<std::int64_t>(m_payload.size() - m_read));
    return {};
}

}  // namespace milk
