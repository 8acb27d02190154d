// milk::Buffer and the transport-only parts of BufferHome.
#include "milk/buffer.hpp"

#include <utility>

#if defined(MILK_FREESTANDING)
#include "milk/result.hpp"
#else
#include <cstdio>
#include <cstdlib>
#endif

namespace milk {

namespace {

// A misuse of a buffer is a bug in the caller: it aborts (in the kernel, die()
// means BUG) rather than returning a Result the caller might ignore.
[[noreturn]] void misuse(const char* text, const char* operation) {
#if defined(MILK_FREESTANDING)
    die(text, Error{ErrorCode::InvalidArgument, operation});
#else
    std::fprintf(stderr, "milk: %s: %s\n", text, operation);
    std::fflush(stderr);
    std::abort();
#endif
}

}  // namespace

bool BufferHome::is_home_of(const Buffer& buffer) const noexcept { return buffer.m_home == this; }

BufferHome::Detached BufferHome::detach(Buffer&& buffer) noexcept {
    Detached parts{buffer.m_offset, buffer.m_length, buffer.m_capacity};
    // Dropping the home reference without calling release() is the point:
    // the region is not freed, it changes hands.
    buffer.m_home = nullptr;
    buffer.m_data = nullptr;
    buffer.m_offset = buffer.m_length = buffer.m_capacity = 0;
    return parts;
}

Buffer::Buffer(BufferHomeRef home, std::byte* data, std::uint32_t offset, std::uint32_t length)
    : m_home(home), m_data(data), m_offset(offset), m_length(length), m_capacity(length) {}

Buffer::Buffer(Buffer&& other) noexcept
    // exchange, not move: a moved-from raw home pointer would otherwise
    // still be set, and the region released twice.
    : m_home(std::exchange(other.m_home, nullptr)),
      m_data(std::exchange(other.m_data, nullptr)),
      m_offset(std::exchange(other.m_offset, 0)),
      m_length(std::exchange(other.m_length, 0)),
      m_capacity(std::exchange(other.m_capacity, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        // The region this buffer held goes home before it takes the other's.
        reset();
        m_home = std::exchange(other.m_home, nullptr);
        m_data = std::exchange(other.m_data, nullptr);
        m_offset = std::exchange(other.m_offset, 0);
        m_length = std::exchange(other.m_length, 0);
        m_capacity = std::exchange(other.m_capacity, 0);
    }
    return *this;
}

Buffer::~Buffer() { reset(); }

void Buffer::reset() noexcept {
    if (m_home) m_home->release(m_offset, m_capacity);
    m_home = nullptr;
    m_data = nullptr;
    m_offset = m_length = m_capacity = 0;
}

void Buffer::require_valid(const char* operation) const {
    if (m_data != nullptr) return;
    misuse("use of a moved-from Buffer", operation);
}

std::byte* Buffer::data() const {
    require_valid("data");
    return m_data;
}

std::size_t Buffer::size() const {
    require_valid("size");
    return m_length;
}

std::span<std::byte> Buffer::bytes() const {
    require_valid("bytes");
    return {m_data, m_length};
}

std::uint32_t Buffer::heap_offset() const {
    require_valid("heap_offset");
    return m_offset;
}

void Buffer::truncate(std::size_t length) {
    require_valid("truncate");
    if (length > m_length) {
#if defined(MILK_FREESTANDING)
        misuse("Buffer::truncate beyond the buffer's size: a buffer cannot grow", "truncate");
#else
        std::fprintf(stderr, "milk: Buffer::truncate(%zu) on a buffer of %u bytes: a buffer cannot grow\n", length,
                     m_length);
        std::fflush(stderr);
        std::abort();
#endif
    }
    m_length = static_cast<std::uint32_t>(length);
}

}  // namespace milk
