// Finding a component of the generated registry by name, and its counts.
#include "component.hpp"

namespace milk::kernel {
namespace {

// Zero at load; the atomics' constexpr constructors keep this a constant
// initialisation (the module runs no global constructors).
constinit ComponentStats stats[max_components];

}  // namespace

FoundComponent find_component(const char* name) {
    const std::span<const ComponentEntry> registry = compiled_components();
    for (std::size_t i = 0; i < registry.size() && i < max_components; ++i)
        if (same_text(registry[i].name, name)) return {&registry[i], &stats[i]};
    return {};
}

}  // namespace milk::kernel
