// The tally component: the server of examples/tally/tally.contract, inside
// the kernel. It is the example's own serve_tally
// (examples/tally/tally_server.hpp), compiled here unchanged. It speaks
// first and receives many Adds per answer, so it cannot be a step per kick:
// it runs in its channel's serving thread (Hosting::Thread), where each
// receive sleeps until user space sends.
#include "component.hpp"
#include "session_host.hpp"

#include "tally.hpp"
#include "tally.kstub.h"
#include "tally_component.hpp"

namespace milk::kernel {
namespace {

namespace Tally = examples::tally::Tally;

milk::Result<components::tally::ServerReport> serve_default_tally(components::tally::ServerGreeting server) {
    return components::tally::serve_tally(std::move(server), components::tally::default_limit);
}

using TallyComponent = SessionServeComponent<Tally::server, serve_default_tally>;

Result<Owned<Component>> create_tally() { return TallyComponent::create(); }

}  // namespace

constinit const ContractEntry tally_entry{
    "examples.tally.Tally",
    1,
    [](milk_kstate* state, milk_kside side) { examples_tally_Tally_init(state, side); },
    [](milk_kstate* state, const void* slot, const milk_kpool* pool, void* message, milk_kviolation* violation) {
        return examples_tally_Tally_validate(state, slot, pool, static_cast<examples_tally_Tally*>(message), violation);
    },
    [](milk_kstate* state, milk_ku32 tag) { return examples_tally_Tally_on_send(state, tag); },
    [](milk_ku32 tag) { return examples_tally_Tally_payload_size(tag); },
    // No `bytes` fields.
    [](const void*, milk_kbytes*) -> std::size_t { return 0; },
    examples_tally_Tally_state_end,
    examples_tally_Tally_step,
    examples_tally_Tally__tag_count,
    create_tally,
    Hosting::Thread,
};

}  // namespace milk::kernel
