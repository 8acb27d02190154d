// milk::FixedArray<T>: an owned array whose length is fixed when it is made.
//
// The channel core's bookkeeping (the buddy allocator's metadata, the record
// of regions held from the peer) is compiled into libmilk and into milk.ko.
// <memory>'s unique_ptr<T[]> would do in user space, but its header drags in
// shared_ptr and throwing helpers the module cannot link; this is the small
// part the core needs, with a fallible factory instead of a throwing new.
#pragma once

#include "result.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace milk {

template <typename T>
class FixedArray {
public:
    // How the elements start out.
    enum class Fill : std::uint8_t {
        // Value-initialised (zero for scalars and atomics).
        Zero,
        // Left uninitialised: for arrays whose entries are written before
        // they are read, so that pages nobody touches cost nothing.
        Uninitialised,
    };

    FixedArray() = default;
    FixedArray(FixedArray&& other) noexcept
        : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}
    FixedArray& operator=(FixedArray&& other) noexcept {
        if (this != &other) {
            delete[] m_data;
            m_data = std::exchange(other.m_data, nullptr);
            m_size = std::exchange(other.m_size, 0);
        }
        return *this;
    }
    FixedArray(const FixedArray&) = delete;
    FixedArray& operator=(const FixedArray&) = delete;
    // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): m_data is always initialised (nullptr by default); the analyzer loses it through Result<FixedArray>'s placement new.
    ~FixedArray() { delete[] m_data; }

    [[nodiscard]] static Result<FixedArray> try_create(std::size_t size, Fill fill) {
        FixedArray array;
        if (size == 0) return array;
        array.m_data = fill == Fill::Zero ? new (std::nothrow) T[size]() : new (std::nothrow) T[size];
        if (array.m_data == nullptr)
            return Error{ErrorCode::OutOfMemory, "allocation of the channel core's bookkeeping failed",
                         static_cast<std::int64_t>(size * sizeof(T))};
        array.m_size = size;
        return array;
    }

    [[nodiscard]] std::size_t size() const { return m_size; }
    // Unchecked, as operator[] of a built-in array: callers index with
    // values they have bounded themselves.
    T& operator[](std::size_t index) { return m_data[index]; }
    const T& operator[](std::size_t index) const { return m_data[index]; }
    // The first element, null when empty (to fill or copy the whole array).
    [[nodiscard]] T* data() { return m_data; }
    [[nodiscard]] const T* data() const { return m_data; }

private:
    T* m_data = nullptr;
    std::size_t m_size = 0;
};

}  // namespace milk
