// A component type as the host sees it: the milk::Component concept
// (milk/component.hpp) erased into a record the host can keep in a table,
// look up by the name a config uses, and run on any channel end.
#pragma once

#include <milk/channel.hpp>
#include <milk/component.hpp>
#include <milk/host/direct_policy.hpp>
#include <milk/host/movable.hpp>

#include <boost/hana/length.hpp>
#include <milk/result.hpp>
#include <milk/state_machine.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace milk::host {

struct ComponentType {
    const char* name;      // what a config's `component = "..."` names
    const char* contract;  // the contract's wire name, "package.Contract"
    std::uint32_t version;
    PlacementSet placements;
    Statefulness statefulness;
    // The settings the component reads; a config may set no other.
    SettingNames setting_names;
    // Builds the component from `settings` and serves the channel to its
    // end (milk::serve_channel): what runs on the component's side of every
    // channel in user space, in the host's process or in a process of its own.
    Result<void> (*serve)(const Settings& settings, ChannelEnd&& end);
    // Its contract's protocol as data: the host follows each channel's
    // state with it (`milkctl status`). Empty only in tests that never
    // serve.
    session::StateMachine machine{};
    // Whether its own process (a runner) locks its memory.
    MemoryResidence residence = MemoryResidence::Pageable;
    // Of setting_names, the ones it reads as text; the rest are integers.
    SettingNames text_setting_names{};

    // Live relocation (milk/host/movable.hpp). Null for a component that
    // serves whole sessions (serve()): it cannot be moved.
    //   serve_movable  serves like `serve`, from a snapshot when one is
    //                  given, until the session ends or a ParkSignal parks it;
    //   check_snapshot restores a snapshot and drops the result: whether a
    //                  target placement can take it, before it is asked to;
    //   reencode       the client's side: one message read back from a
    //                  channel the component left, encoded again for `to`.
    Result<std::optional<ParkedChannel>> (*serve_movable)(const Settings& settings,
                                                          std::span<const std::byte> snapshot, ChannelEnd&& end,
                                                          ParkSignal& signal) = nullptr;
    Result<void> (*check_snapshot)(const Settings& settings, std::span<const std::byte> snapshot) = nullptr;
    Result<void> (*reencode)(const Slot& slot, ChannelEnd& from, Transport& to, Slot& out) = nullptr;

    [[nodiscard]] bool movable() const { return serve_movable != nullptr; }

    // Its contract's message names by tag (names[tag - 1]): a trace names
    // each message. Empty only in tests that never trace.
    std::span<const char* const> message_names{};
    // For a memory manager (a component with `direct_pager`): its books for
    // a region, called directly by the user-space mechanism when the
    // instance is placed `inproc` (milk/host/direct_policy.hpp). Null for
    // every other component.
    Result<std::unique_ptr<DirectMemPolicy>> (*direct_mem)(const Settings& settings, std::uint32_t pages,
                                                           std::uint32_t frames) = nullptr;
};

namespace component_type_detail {

// The contract's message names, indexed by tag - 1 (tags are 1-based and
// dense: milkc numbers messages in declaration order).
template <typename Contract>
struct MessageNames {
    static constexpr std::size_t count =
        decltype(boost::hana::length(boost::hana::keys(Contract::protocol.message_tags)))::value;
    static constexpr std::array<const char*, count> names = [] {
        std::array<const char*, count> table{};
        boost::hana::for_each(boost::hana::keys(Contract::protocol.message_tags), [&](auto type) {
            using Message = typename decltype(type)::type;
            constexpr session::MessageInfo info = milk_message_info(std::type_identity<Message>{});
            table[info.tag - 1] = info.name;
        });
        return table;
    }();
};

}  // namespace component_type_detail

template <Component C>
[[nodiscard]] constexpr ComponentType describe() {
    ComponentType type{
        C::name,
        C::Contract::name,
        C::Contract::version,
        C::placements,
        C::statefulness,
        C::setting_names,
        [](const Settings& settings, ChannelEnd&& end) -> Result<void> {
            auto component = C::try_create(settings);
            if (!component.ok()) return component.error();
            return serve_channel(component.value(), C::Contract::server(std::move(end)));
        },
        session::state_machine<C::Contract::protocol>(),
        residence_of<C>(),
        text_setting_names_of<C>(),
    };
    type.message_names = component_type_detail::MessageNames<typename C::Contract>::names;
    if constexpr (StepComponent<C>) {
        type.serve_movable = &serve_movable<C>;
        type.check_snapshot = [](const Settings& settings, std::span<const std::byte> snapshot) -> Result<void> {
            auto restored = create_or_restore<C>(settings, snapshot);
            if (!restored.ok()) return restored.error();
            return {};
        };
        type.reencode = &reencode<typename C::Contract>;
    }
    if constexpr (requires(const C& component, std::uint32_t count) { component.direct_pager(count, count); })
        type.direct_mem = &make_direct_mem<C>;
    return type;
}

// The components compiled into this program: the list of
// components/CMakeLists.txt, generated into the library
// milk_component_registry (link it to get them all).
[[nodiscard]] std::span<const ComponentType> compiled_components();

// The component named `name` in `components`, or null.
[[nodiscard]] inline const ComponentType* find_component(std::span<const ComponentType> components,
                                                         std::string_view name) {
    for (const ComponentType& type : components)
        if (name == type.name) return &type;
    return nullptr;
}

}  // namespace milk::host
