// Everything of milk.ko that instantiates the components' templates, compiled
// as ONE object: the generated registry with every component
// (generated/milk_components.cpp) and the sOS policies' self-test. The
// endpoints and the policies are templates whose out-of-line copies are
// COMDATs; two objects that both emit one would leave, after `ld -r` keeps a
// single copy, an ftrace call-site entry pointing into the discarded one,
// which ld refuses (Kbuild's header, docs/kernel.md). One object, one copy.
#include "milk_components.cpp"
#include "policy_self_test.cpp"
