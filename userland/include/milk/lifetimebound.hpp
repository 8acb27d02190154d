// MILK_LIFETIMEBOUND: says that what a function returns points into its
// object (or argument), for compilers that can then warn about a pointer kept
// past the object's end (clang's -Wdangling, on by default).
//
// Placed after a member function's parameter list it binds the result to
// `*this`. g++ has no such attribute, so the macro expands to nothing there;
// the code compiles the same with both. What it catches and what stays
// unchecked is in docs/verification.md ("Raw pointers into buffers").
#pragma once

#if defined(__has_cpp_attribute)
#if __has_cpp_attribute(clang::lifetimebound)
#define MILK_LIFETIMEBOUND [[clang::lifetimebound]]
#endif
#endif
#ifndef MILK_LIFETIMEBOUND
#define MILK_LIFETIMEBOUND
#endif
