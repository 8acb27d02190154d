// The doctest main of milk_generated_tests: the behaviour of generated C++.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
