// milk::Buffer: an owned region of a channel's exchange heap, the C++ side of
// a contract's `bytes` field.
//
// A buffer has exactly one owner at a time. It is move-only; sending it in a
// message moves it to the peer without copying a byte (the receiver's Buffer
// points at the same memory). Touching a moved-from buffer aborts with
// "milk: use of a moved-from Buffer". Destroying a buffer returns its memory
// to the pool of the side that allocated it, through the channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace milk {

// The side of an exchange heap a buffer came from; implemented by each
// transport. Releasing may happen on any thread and after the channel closed,
// so implementations are thread-safe and kept alive by the buffers.
class BufferHome {
public:
    virtual ~BufferHome() = default;
    // Gives the region back to the pool that allocated it.
    virtual void release(std::uint32_t offset, std::uint32_t length) noexcept = 0;
};

class [[nodiscard]] Buffer {
public:
    // An empty buffer (as if moved-from). Exists so that messages can be
    // default-constructed before their fields are filled in.
    Buffer() = default;
    Buffer(std::shared_ptr<BufferHome> home, std::byte* data, std::uint32_t offset, std::uint32_t length);

    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    // Preconditions for all of these: the buffer was not moved from.
    [[nodiscard]] std::byte* data() const;
    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::span<std::byte> bytes() const;
    // The region's place in the exchange heap; transports put it on the wire.
    [[nodiscard]] std::uint32_t heap_offset() const;

    // True unless moved from (or default-constructed).
    [[nodiscard]] bool valid() const { return m_data != nullptr; }

    // Shrinks the visible length (a buffer allocated for 4 KiB that holds
    // 100 bytes). Precondition: length <= size().
    void truncate(std::size_t length);

private:
    void require_valid(const char* operation) const;
    void reset() noexcept;

    std::shared_ptr<BufferHome> m_home;
    std::byte* m_data = nullptr;
    std::uint32_t m_offset = 0;
    std::uint32_t m_length = 0;
    std::uint32_t m_capacity = 0;
};

}  // namespace milk
