// The echo component: the server of examples/pingpong/pingpong.contract,
// inside the kernel. It answers every Ping with a Pong of the same number
// whose payload is the Ping's reversed, exactly as the in-process example's
// server does, so the example's client code runs against it unchanged.
#include "component.hpp"

#include "pingpong.kstub.h"

namespace milk::kernel {
namespace {

class PingPongEcho final : public Component {
public:
    Result<void> on_message(const void* message, ChannelContext& channel) override {
        const auto& received = *static_cast<const examples_pingpong_PingPong*>(message);
        // Bye moves the protocol to `end`; nothing to answer.
        if (received.tag != examples_pingpong_PingPong_tag_Ping) return {};
        const examples_pingpong_PingPong__Ping& ping = received.body.Ping;

        auto reply = channel.allocate(ping.payload.length);
        if (!reply.ok()) return reply.error();
        // Each byte of user memory is read once, into the kernel's buffer.
        std::span<const std::byte> payload = channel.received(ping.payload);
        std::span<std::byte> out = reply->bytes;
        for (std::size_t i = 0; i < payload.size(); ++i) out[payload.size() - 1 - i] = payload[i];
        channel.give_back(ping.payload);

        const examples_pingpong_PingPong__Pong pong{ping.seq, reply->handle};
        return channel.send(examples_pingpong_PingPong_tag_Pong, pong);
    }
};

Result<Owned<Component>> create_echo() {
    auto echo = Owned<PingPongEcho>::try_create();
    if (!echo.ok()) return echo.error();
    return Owned<Component>(std::move(echo).value());
}

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
};

}  // namespace milk::kernel
