// The components of milkd_test_components: echo, and a test component that
// supports only `inproc`, so that the diagnostic for a placement a component
// does not support (H0012) can be run through milkd's command line. Every
// component of components/ supports every placement.
#include <milk/host/component_type.hpp>

#include "echo_component.hpp"

namespace {

// Echo, restricted to the host's own process.
class InprocOnly : public components::echo::Echo {
public:
    static constexpr const char* name = "inproc_only";
    static constexpr milk::PlacementSet placements{milk::Placement::Inproc};

    [[nodiscard]] static milk::Result<InprocOnly> try_create(const milk::Settings& /*settings*/) {
        return InprocOnly{};
    }
};

static_assert(milk::Component<InprocOnly>);

constexpr milk::host::ComponentType registry[] = {
    milk::host::describe<components::echo::Echo>(),
    milk::host::describe<InprocOnly>(),
};

}  // namespace

namespace milk::host {

std::span<const ComponentType> compiled_components() { return registry; }

}  // namespace milk::host
