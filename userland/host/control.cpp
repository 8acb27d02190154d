#include "milk/host/control.hpp"

#include "control.hpp"  // generated from contracts/control.contract

#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace milk::host {
namespace {

namespace Control = milk::control::Control;
using ServerIdle = Control::Server<Control::state::Idle>;
using ServerListing = Control::Server<Control::state::Listing>;
using ClientIdle = Control::Client<Control::state::Idle>;
using ClientListing = Control::Client<Control::state::Listing>;

control::Fate fate_of(InstanceState state) {
    switch (state) {
    case InstanceState::Running: return control::Fate::running;
    case InstanceState::Exited: return control::Fate::exited;
    case InstanceState::Killed: return control::Fate::killed;
    }
    return control::Fate::exited;
}

InstanceState state_of(control::Fate fate) {
    switch (fate) {
    case control::Fate::running: return InstanceState::Running;
    case control::Fate::exited: return InstanceState::Exited;
    case control::Fate::killed: return InstanceState::Killed;
    }
    return InstanceState::Exited;
}

template <typename Endpoint>
Result<Buffer> text_buffer(Endpoint& endpoint, const std::string& text) {
    // A buffer of zero bytes is still a buffer: allocate at least one and
    // send the text's length only.
    auto buffer = MILK_TRY(endpoint.allocate(text.empty() ? 1 : text.size()));
    if (text.empty()) buffer.bytes()[0] = std::byte{0};
    else std::memcpy(buffer.bytes().data(), text.data(), text.size());
    return buffer;
}

std::string text_of(const Buffer& buffer) {
    const auto bytes = buffer.bytes();
    std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // Names never hold NUL; one that does ends there (a 1-byte buffer of an
    // empty name holds a NUL).
    text.resize(std::strlen(text.c_str()));
    return text;
}

// Lists every instance; the endpoint back in Idle. The endpoint lives in an
// optional between sends, as in the components' loops: clang's -Wconsumed
// cannot follow a consumable local that a loop consumes and reassigns.
Result<ServerIdle> list(ServerListing first, const std::vector<InstanceStatus>& instances) {
    std::optional<ServerListing> listing{std::move(first)};
    for (const InstanceStatus& instance : instances) {
        Control::Instance record{
            MILK_TRY(text_buffer(*listing, instance.name)),
            MILK_TRY(text_buffer(*listing, instance.component)),
            static_cast<control::Placement>(instance.placement),
            fate_of(instance.state),
            static_cast<std::int32_t>(instance.pid),
            instance.code,
            static_cast<std::uint32_t>(instance.channels_open),
            instance.messages,
        };
        listing.emplace(MILK_TRY(std::move(*listing).send(std::move(record))));
        for (const ChannelStatus& channel : instance.open_channels)
            listing.emplace(MILK_TRY(std::move(*listing).send(
                Control::Channel{channel.messages, MILK_TRY(text_buffer(*listing, channel.state))})));
    }
    return std::move(*listing).send(Control::Listed{static_cast<std::uint32_t>(instances.size())});
}

}  // namespace

Result<void> serve_control(ChannelEnd&& end, const std::function<std::vector<InstanceStatus>()>& status) {
    std::optional<ServerIdle> idle{Control::server(std::move(end))};
    for (;;) {
        using Next = std::optional<ServerListing>;
        auto request = std::move(*idle).receive([](Control::Status&&, ServerListing&& listing) { return Next{std::move(listing)}; },
                                                [](Control::Bye&&) { return Next{}; });
        idle.reset();
        if (!request.ok()) return request.error();
        if (!request.value()) return {};
        idle.emplace(MILK_TRY(list(std::move(*request.value()), status())));
    }
}

Result<std::vector<InstanceStatus>> request_status(ChannelEnd&& control) {
    ClientIdle idle = Control::client(std::move(control));
    // Reassigned after each receive: the endpoint of the next Listing.
    ClientListing waiting = MILK_TRY(std::move(idle).send(Control::Status{}));
    std::vector<InstanceStatus> instances;
    bool orphan_channel = false;
    for (;;) {
        using Step = std::pair<std::optional<ClientListing>, std::optional<ClientIdle>>;
        std::uint32_t listed = 0;
        auto step = std::move(waiting).receive(
            [&](Control::Instance&& record, ClientListing&& next) {
                InstanceStatus status;
                status.name = text_of(record.name);
                status.component = text_of(record.component);
                status.placement = static_cast<Placement>(record.placement);
                status.state = state_of(record.fate);
                status.pid = record.pid;
                status.code = record.code;
                status.channels_open = record.channels;
                status.messages = record.messages;
                instances.push_back(std::move(status));
                return Step{std::move(next), std::nullopt};
            },
            [&](Control::Channel&& channel, ClientListing&& next) {
                // A Channel before any Instance belongs to nobody.
                if (instances.empty()) orphan_channel = true;
                else instances.back().open_channels.push_back(ChannelStatus{channel.messages, text_of(channel.protocol_state)});
                return Step{std::move(next), std::nullopt};
            },
            [&](Control::Listed&& done, ClientIdle&& next) {
                listed = done.count;
                return Step{std::nullopt, std::move(next)};
            });
        if (!step.ok()) return step.error();
        if (step.value().first) {
            waiting = std::move(*step.value().first);
            continue;
        }
        if (orphan_channel)
            return Error{ErrorCode::ProtocolViolation, "milkd sent a Channel record before any Instance", 0};
        if (listed != instances.size())
            return Error{ErrorCode::ProtocolViolation, "milkd's Listed count differs from the records it sent", listed};
        MILK_TRY(std::move(*step.value().second).send(Control::Bye{}));
        return instances;
    }
}

}  // namespace milk::host
