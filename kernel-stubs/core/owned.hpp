// milk::kernel::Owned<T>: the core's unique owner of one heap object.
//
// <memory>'s unique_ptr would do, but its header drags in shared_ptr and
// throwing helpers that need libstdc++'s runtime; this is the small part the
// core uses, with a fallible factory instead of a throwing new.
#pragma once

#include <milk/result.hpp>

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace milk::kernel {

template <typename T>
class [[nodiscard]] Owned {
public:
    Owned() = default;
    Owned(Owned&& other) noexcept : m_object(std::exchange(other.m_object, nullptr)) {}
    Owned& operator=(Owned&& other) noexcept {
        if (this != &other) {
            delete m_object;
            m_object = std::exchange(other.m_object, nullptr);
        }
        return *this;
    }
    // An owner of a derived object becomes an owner of its base (a component
    // behind Owned<Component>); T's destructor must then be virtual.
    template <typename U>
        requires(!std::is_same_v<U, T> && std::is_convertible_v<U*, T*>)
    Owned(Owned<U>&& other) noexcept : m_object(std::exchange(other.m_object, nullptr)) {
        static_assert(std::has_virtual_destructor_v<T>, "deleting a derived object through a base needs a virtual destructor");
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() { delete m_object; }

    // Builds a T on the kernel heap; OutOfMemory when kmalloc fails.
    template <typename... Args>
    [[nodiscard]] static Result<Owned> try_create(Args&&... args) {
        T* object = new (std::nothrow) T(std::forward<Args>(args)...);
        if (object == nullptr) return Error{ErrorCode::OutOfMemory, "kmalloc failed", static_cast<std::int64_t>(sizeof(T))};
        return Owned(object);
    }

    [[nodiscard]] explicit operator bool() const { return m_object != nullptr; }
    T* operator->() const { return m_object; }
    T& operator*() const { return *m_object; }

private:
    template <typename U>
    friend class Owned;

    explicit Owned(T* object) : m_object(object) {}
    T* m_object = nullptr;
};

}  // namespace milk::kernel
