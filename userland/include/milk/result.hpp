// Errors and the result type of every fallible runtime call.
//
// No exceptions: this header is also compiled into the kernel module, so a
// fallible call returns a [[nodiscard]] Result<T>. Taking the value of a
// failed result is the caller's bug and aborts with the error's description.
#pragma once

#include "lifetimebound.hpp"

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace milk {

enum class ErrorCode : std::uint8_t {
    // The peer dropped its endpoint, closed the channel, or its process died.
    PeerClosed = 1,
    // A receive with a deadline found no message in time.
    TimedOut,
    // A non-blocking operation found nothing to do.
    WouldBlock,
    // The peer sent something its contract does not allow: a tag not allowed
    // in the current state, an out-of-range enum, a bool other than 0 or 1.
    ProtocolViolation,
    // The peer sent a buffer handle that is out of bounds, not owned by it, or
    // already in our hands.
    BadBuffer,
    // The peer corrupted shared ring indices.
    CorruptRing,
    // The exchange heap has no room for the requested buffer.
    OutOfMemory,
    // The caller asked for something impossible (a zero-size ring, say).
    InvalidArgument,
    // A system call failed; `detail` holds errno.
    SystemError,
};

// A short, stable, human-readable name: "peer closed", "protocol violation"...
[[nodiscard]] const char* describe(ErrorCode code);

struct Error {
    ErrorCode code;
    // A static string saying what exactly went wrong ("tag 7 not allowed in
    // state Waiting"), or nullptr. Static so that errors never allocate.
    const char* what = nullptr;
    // errno for SystemError; the offending value for validation errors.
    std::int64_t detail = 0;

    friend bool operator==(const Error& a, const Error& b) { return a.code == b.code; }
};

// Prints "milk: <context>: <error>" to stderr and aborts. Used when a caller
// takes the value of a failed result.
[[noreturn]] void die(const char* context, const Error& error);

template <typename T>
class [[nodiscard]] Result {
public:
    // By reference, not by value: milk::Slot is 64-byte aligned, and GCC
    // prints an ABI note for every by-value parameter of such a type.
    Result(T&& value) : m_ok(true) { new (&m_value) T(std::move(value)); }  // NOLINT: implicit by design
    Result(const T& value)  // NOLINT: implicit by design
        requires std::is_copy_constructible_v<T>
        : m_ok(true) {
        new (&m_value) T(value);
    }
    Result(Error error) : m_ok(false) { new (&m_error) Error(error); }    // NOLINT: implicit by design

    Result(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : m_ok(other.m_ok) {
        if (m_ok) new (&m_value) T(std::move(other.m_value));
        else new (&m_error) Error(other.m_error);
    }
    Result& operator=(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &other) {
            destroy();
            m_ok = other.m_ok;
            if (m_ok) new (&m_value) T(std::move(other.m_value));
            else new (&m_error) Error(other.m_error);
        }
        return *this;
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result() { destroy(); }

    [[nodiscard]] bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }

    // Precondition: !ok().
    [[nodiscard]] const Error& error() const {
        if (m_ok) die("Result::error() on a successful result", Error{ErrorCode::InvalidArgument});
        return m_error;
    }
    // Precondition: ok(). Aborts with the error otherwise.
    // The value lives in the result: MILK_LIFETIMEBOUND lets clang warn
    // when a reference or pointer into a temporary result outlives it.
    [[nodiscard]] T& value() & MILK_LIFETIMEBOUND {
        if (!m_ok) die("Result::value() on a failed result", m_error);
        return m_value;
    }
    [[nodiscard]] T&& value() && MILK_LIFETIMEBOUND {
        if (!m_ok) die("Result::value() on a failed result", m_error);
        return std::move(m_value);
    }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }

private:
    void destroy() {
        if (m_ok) m_value.~T();
        else m_error.~Error();
    }

    bool m_ok;
    union {
        T m_value;
        Error m_error;
    };
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : m_ok(false), m_error(error) {}  // NOLINT: implicit by design

    [[nodiscard]] bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    [[nodiscard]] const Error& error() const {
        if (m_ok) die("Result::error() on a successful result", Error{ErrorCode::InvalidArgument});
        return m_error;
    }
    // Aborts with the error if the call failed.
    void value() const {
        if (!m_ok) die("Result::value() on a failed result", m_error);
    }

private:
    bool m_ok = true;
    Error m_error{ErrorCode::InvalidArgument};
};

}  // namespace milk

// Evaluates a Result<T> expression: on failure returns its error from the
// enclosing function, otherwise yields the value (moved out), as
// SerenityOS's TRY does:
//
//     auto end = MILK_TRY(milk::process::receive_channel(socket, deadline));
//     MILK_TRY(send_message(socket, hello));   // a Result<void>: yields nothing
//
// A GNU statement expression (GCC and clang, which are the compilers milk
// supports, in user space and in the kernel); `__extension__` keeps
// -Wpedantic quiet about it. The expression must be a temporary or an
// rvalue: its value is moved out.
#define MILK_TRY(expr) MILK_TRY_IMPL_(expr, MILK_TRY_NAME_(__COUNTER__))

// A name of its own for each use, so that one MILK_TRY may stand inside
// another's expression without shadowing it.
#define MILK_TRY_CONCAT_(a, b) a##b
#define MILK_TRY_NAME_(counter) MILK_TRY_CONCAT_(milk_try_result_, counter)
#define MILK_TRY_IMPL_(expr, name)                                                   \
    __extension__({                                                                  \
        auto&& name = (expr); /* NOLINT(bugprone-macro-parentheses): a declarator */ \
        if (!(name).ok()) return (name).error();                                     \
        static_cast<std::remove_reference_t<decltype(name)>&&>(name).value();        \
    })
