// milk::session::StateMachine: a contract's protocol as plain data, for code
// that follows a channel's state at run time without its types (the host's
// per-channel state in `milkctl status`, a tracer).
//
// The generated endpoints check the protocol at compile time and need none
// of this; it is derived from the same Boost.Hana protocol table
// (`Contract::protocol`, session.hpp), at compile time, so it cannot
// disagree with them:
//
//     constexpr auto machine = milk::session::state_machine<PingPong::protocol>();
//     machine.step(machine.initial, Direction::Send, 1)  // Idle --Ping--> Waiting
#pragma once

#include "session.hpp"

#include <boost/hana.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace milk::session {

struct StateMachine {
    // A state index: declaration order; `end` after the last state.
    using State = std::uint16_t;
    // What step() returns for a message the state does not allow.
    static constexpr State invalid = 0xffff;

    struct Step {
        State from;
        Direction direction;
        std::uint16_t tag;
        State to;
    };

    const char* contract = nullptr;
    std::span<const char* const> state_names;
    State initial = 0;
    std::span<const Step> steps;

    // The state after `tag` goes in `direction` (Send: the client speaks)
    // from `from`, or invalid.
    [[nodiscard]] constexpr State step(State from, Direction direction, std::uint16_t tag) const {
        for (const Step& candidate : steps)
            if (candidate.from == from && candidate.direction == direction && candidate.tag == tag) return candidate.to;
        return invalid;
    }
    [[nodiscard]] constexpr State end() const { return static_cast<State>(state_names.size()); }
    // The state's name, "end", or "?" for an index that is neither.
    [[nodiscard]] constexpr const char* name(State state) const {
        if (state < state_names.size()) return state_names[state];
        return state == end() ? "end" : "?";
    }
};

namespace detail {

// The tables behind state_machine<protocol>(), one per protocol, built at
// compile time.
template <const auto& protocol>
struct MachineTables {
    static constexpr auto state_types = protocol.states;

    template <typename StateType>
    static constexpr StateMachine::State index_of(StateType) {
        using Type = std::remove_cvref_t<StateType>;
        if constexpr (std::is_same_v<typename Type::type, End>) {
            return static_cast<StateMachine::State>(decltype(boost::hana::length(state_types))::value);
        } else {
            using Found = decltype(boost::hana::index_if(state_types, boost::hana::equal.to(Type{})).value());
            return static_cast<StateMachine::State>(std::remove_cvref_t<Found>::value);
        }
    }

    static constexpr auto names = boost::hana::unpack(
        state_types, [](auto... states) { return std::array<const char*, sizeof...(states)>{decltype(states)::type::milk_name...}; });

    template <typename Constant>
    static constexpr auto value_of = std::remove_cvref_t<Constant>::value;

    static constexpr auto steps = boost::hana::unpack(protocol.transitions, [](auto... transitions) {
        return std::array<StateMachine::Step, sizeof...(transitions)>{StateMachine::Step{
            index_of(boost::hana::at_c<0>(transitions)), value_of<decltype(boost::hana::at_c<1>(transitions))>,
            value_of<decltype(protocol.message_tags[boost::hana::at_c<2>(transitions)])>,
            index_of(boost::hana::at_c<3>(transitions))}...};
    });
};

}  // namespace detail

// The protocol table `protocol` (a generated Contract::protocol) as a
// StateMachine whose spans point into static constexpr tables.
template <const auto& protocol>
[[nodiscard]] constexpr StateMachine state_machine() {
    using Tables = detail::MachineTables<protocol>;
    return StateMachine{protocol.name, std::span<const char* const>(Tables::names), Tables::index_of(protocol.initial),
                        std::span<const StateMachine::Step>(Tables::steps)};
}

}  // namespace milk::session
