// Typestate attributes for clang's -Wconsumed, shared by the move-only
// handles whose use after a move C++ cannot reject: endpoints (session.hpp,
// generated headers) and buffers (buffer.hpp).
//
// -Wconsumed is a use-after-move checker that works inside one function. An
// object of a MILK_CONSUMABLE class starts "unconsumed"; a move (a parameter
// marked MILK_RETURN_TYPESTATE(consumed) on the move constructor or
// assignment) or a consuming member (MILK_SET_TYPESTATE(consumed)) makes it
// "consumed"; calling a member marked MILK_CALLABLE_WHEN("unconsumed") on a
// consumed object is reported at compile time. Other compilers do not know
// these attributes, so the macros expand to nothing there; the run-time
// abort on a moved-from handle catches what the analysis cannot see
// (docs/verification.md has the table of who catches what).
#pragma once

#if defined(__clang__)
#define MILK_CONSUMABLE(state) [[clang::consumable(state)]]
#define MILK_CALLABLE_WHEN(...) [[clang::callable_when(__VA_ARGS__)]]
#define MILK_SET_TYPESTATE(state) [[clang::set_typestate(state)]]
#define MILK_RETURN_TYPESTATE(state) [[clang::return_typestate(state)]]
#else
#define MILK_CONSUMABLE(state)
#define MILK_CALLABLE_WHEN(...)
#define MILK_SET_TYPESTATE(state)
#define MILK_RETURN_TYPESTATE(state)
#endif
