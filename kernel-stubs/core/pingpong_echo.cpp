// The echo component: the server of examples/pingpong/pingpong.contract,
// inside the kernel. It is the example's own server code: echo_one
// (examples/pingpong/echo_server.hpp), written against the generated C++
// endpoints and compiled here unchanged, run by SessionComponent once per
// message the generated validator has accepted (session_host.hpp). Each Pong
// carries the Ping's own buffer, reversed in place, as in user space.
#include "component.hpp"
#include "session_host.hpp"

#include "echo_component.hpp"
#include "pingpong.hpp"
#include "pingpong.kstub.h"

namespace milk::kernel {
namespace {

namespace PingPong = examples::pingpong::PingPong;

using Echo = SessionComponent<components::echo::EchoIdle, PingPong::server, components::echo::echo_one>;

Result<Owned<Component>> create_echo() { return Echo::create(); }

}  // namespace

constinit const ContractEntry pingpong_echo_entry{
    "examples.pingpong.PingPong",
    1,
    [](milk_kstate* state, milk_kside side) { examples_pingpong_PingPong_init(state, side); },
    [](milk_kstate* state, const void* slot, const milk_kpool* pool, void* message, milk_kviolation* violation) {
        return examples_pingpong_PingPong_validate(state, slot, pool, static_cast<examples_pingpong_PingPong*>(message),
                                                   violation);
    },
    [](milk_kstate* state, milk_ku32 tag) { return examples_pingpong_PingPong_on_send(state, tag); },
    [](milk_ku32 tag) { return examples_pingpong_PingPong_payload_size(tag); },
    [](const void* message, milk_kbytes* out) -> std::size_t {
        const auto& received = *static_cast<const examples_pingpong_PingPong*>(message);
        if (received.tag != examples_pingpong_PingPong_tag_Ping) return 0;
        out[0] = received.body.Ping.payload;
        return 1;
    },
    examples_pingpong_PingPong_state_end,
    examples_pingpong_PingPong_step,
    examples_pingpong_PingPong__tag_count,
    create_echo,
    Hosting::PerMessage,
};

}  // namespace milk::kernel
