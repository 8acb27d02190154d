// The components milk.ko serves, by contract name. Adding one: write it with
// its ContractEntry (see pingpong_echo.cpp), generate its contract's stubs
// (kernel-stubs/CMakeLists.txt) and list it here.
#include "component.hpp"

namespace milk::kernel {
namespace {

constinit const ContractEntry* const registry[] = {&pingpong_echo_entry, &file_server_entry, &tally_entry};

bool same_name(const char* a, const char* b) {
    for (;; ++a, ++b) {
        if (*a != *b) return false;
        if (*a == '\0') return true;
    }
}

}  // namespace

const ContractEntry* find_component(const char* contract) {
    for (const ContractEntry* entry : registry)
        if (same_name(entry->contract, contract)) return entry;
    return nullptr;
}

}  // namespace milk::kernel
