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
    // The states where the server owes nothing, ascending: where a
    // component may be moved or restarted.
    std::span<const State> cut_points;

    // The state after `tag` goes in `direction` (Send: the client speaks)
    // from `from`, or invalid.
    [[nodiscard]] constexpr State step(State from, Direction direction, std::uint16_t tag) const {
        for (const Step& candidate : steps)
            if (candidate.from == from && candidate.direction == direction && candidate.tag == tag) return candidate.to;
        return invalid;
    }
    [[nodiscard]] constexpr State end() const { return static_cast<State>(state_names.size()); }
    [[nodiscard]] constexpr bool is_cut_point(State state) const {
        for (State point : cut_points)
            if (point == state) return true;
        return false;
    }

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

    static constexpr auto cut_points = boost::hana::unpack(protocol.cut_points, [](auto... states) {
        return std::array<StateMachine::State, sizeof...(states)>{index_of(states)...};
    });

    // The rule milkc applies, from the transitions: a state with steps, all
    // of them client sends.
    static constexpr bool derived_cut_point(StateMachine::State state) {
        bool any = false;
        for (const StateMachine::Step& step : steps) {
            if (step.from != state) continue;
            if (step.direction != Direction::Send) return false;
            any = true;
        }
        return any;
    }

    static constexpr bool cut_points_agree() {
        for (std::size_t index = 0; index < names.size(); ++index) {
            const auto state = static_cast<StateMachine::State>(index);
            bool listed = false;
            for (StateMachine::State point : cut_points) listed = listed || point == state;
            if (listed != derived_cut_point(state)) return false;
        }
        for (std::size_t i = 1; i < cut_points.size(); ++i)
            if (cut_points[i - 1] >= cut_points[i]) return false;
        return true;
    }
    static_assert(cut_points_agree(),
                  "milk: the protocol table's cut points disagree with its transitions (a milkc bug)");
};

}  // namespace detail

// The protocol table `protocol` (a generated Contract::protocol) as a
// StateMachine whose spans point into static constexpr tables.
template <const auto& protocol>
[[nodiscard]] constexpr StateMachine state_machine() {
    using Tables = detail::MachineTables<protocol>;
    return StateMachine{protocol.name, std::span<const char* const>(Tables::names), Tables::index_of(protocol.initial),
                        std::span<const StateMachine::Step>(Tables::steps),
                        std::span<const StateMachine::State>(Tables::cut_points)};
}

}  // namespace milk::session
