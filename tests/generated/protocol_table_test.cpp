// The Boost.Hana protocol table of each generated contract, walked the way
// generic code would: its counts and sizes, and that it agrees with the
// endpoint classes (each transition's send returns the endpoint of its
// target state; the other side may not send it).
#include "files.hpp"
#include "pingpong.hpp"
#include "shapes.hpp"

#include <doctest/doctest.h>

#include <milk/state_machine.hpp>

#include <boost/hana.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

namespace hana = boost::hana;

namespace {

// The C++ type a hana::type_c stands for, and the value of an integral constant.
template <typename HanaType>
using TypeOf = typename std::remove_cvref_t<HanaType>::type;
template <typename Constant>
inline constexpr auto value_of = std::remove_cvref_t<Constant>::value;

struct Counts {
    std::size_t states = 0;
    std::size_t transitions = 0;
    std::size_t client_sends = 0;
    std::size_t server_sends = 0;
    std::size_t to_end = 0;
    std::size_t messages = 0;
    std::size_t payload_bytes = 0;  // summed over messages
};

template <typename Endpoint, typename Message>
using SendResult = decltype(std::declval<Endpoint>().send(std::declval<Message>()));

// What sending M in a state must return for the side that may send it.
template <template <typename> class Side, typename To>
struct Expected {
    using type = milk::Result<Side<To>>;
};
template <template <typename> class Side>
struct Expected<Side, milk::session::End> {
    using type = milk::session::EndResult;
};

// Walks one contract's table. Client and Server are the contract's endpoint
// templates; everything else comes from the table.
template <template <typename> class Client, template <typename> class Server, typename Protocol>
Counts walk(const Protocol& protocol) {
    Counts counts;
    hana::for_each(protocol.states, [&](auto) { ++counts.states; });

    hana::for_each(protocol.transitions, [&](auto transition) {
        using From = TypeOf<decltype(hana::at_c<0>(transition))>;
        constexpr milk::session::Direction direction = value_of<decltype(hana::at_c<1>(transition))>;
        using Message = TypeOf<decltype(hana::at_c<2>(transition))>;
        using To = TypeOf<decltype(hana::at_c<3>(transition))>;

        ++counts.transitions;
        if constexpr (std::is_same_v<To, milk::session::End>) ++counts.to_end;
        // The table and the endpoint classes say the same: the side that
        // speaks gets the next state's endpoint, the other side is refused.
        if constexpr (direction == milk::session::Direction::Send) {
            ++counts.client_sends;
            static_assert(std::is_same_v<SendResult<Client<From>, Message>, typename Expected<Client, To>::type>);
            static_assert(std::is_same_v<SendResult<Server<From>, Message>, milk::session::Rejected>);
            static_assert(Client<From>::role == milk::session::Role::Client);
        } else {
            ++counts.server_sends;
            static_assert(std::is_same_v<SendResult<Server<From>, Message>, typename Expected<Server, To>::type>);
            static_assert(std::is_same_v<SendResult<Client<From>, Message>, milk::session::Rejected>);
        }
        static_assert(std::is_same_v<typename Client<From>::state_type, From>);
        // Every transition starts in a declared state and ends in one or at End.
        static_assert(decltype(hana::contains(protocol.states, hana::type_c<From>))::value);
        static_assert(std::is_same_v<To, milk::session::End> ||
                      decltype(hana::contains(protocol.states, hana::type_c<To>))::value);
    });

    hana::for_each(hana::keys(protocol.message_sizes), [&](auto type) {
        using Message = TypeOf<decltype(type)>;
        constexpr std::size_t size = value_of<decltype(protocol.message_sizes[type])>;
        constexpr std::uint16_t tag = value_of<decltype(protocol.message_tags[type])>;
        // The table, the codec's description and the wire limit agree.
        static_assert(size == milk::session::message_info<Message>.payload_size);
        static_assert(tag == milk::session::message_info<Message>.tag);
        static_assert(size <= milk::slot_payload_size);
        static_assert(tag != 0);
        ++counts.messages;
        counts.payload_bytes += size;
    });
    return counts;
}

}  // namespace

TEST_CASE("protocol table: pingpong") {
    namespace pp = demo::ping::PingPong;
    static_assert(pp::protocol.initial == hana::type_c<pp::state::Idle>);
    static_assert(hana::length(pp::protocol.transitions) == hana::size_c<3>);
    CHECK(std::string(pp::protocol.name) == "PingPong");

    const Counts counts = walk<pp::Client, pp::Server>(pp::protocol);
    CHECK(counts.states == 2);
    CHECK(counts.transitions == 3);
    CHECK(counts.client_sends == 2);
    CHECK(counts.server_sends == 1);
    CHECK(counts.to_end == 1);
    CHECK(counts.messages == 3);
    // Ping: u32 + bytes = 12; Pong: u32, u8 enum, Point at 8 = 16; Bye: 0.
    CHECK(counts.payload_bytes == 12 + 16 + 0);
    static_assert(pp::protocol.message_sizes[hana::type_c<pp::Pong>] == hana::size_c<16>);
    CHECK(pp::protocol.message_tags[hana::type_c<pp::Bye>] == static_cast<std::uint16_t>(pp::Tag::Bye));
}

TEST_CASE("protocol table: files") {
    namespace fs = demo::files::Files;
    static_assert(fs::protocol.initial == hana::type_c<fs::state::Start>);

    const Counts counts = walk<fs::Client, fs::Server>(fs::protocol);
    CHECK(counts.states == 5);
    CHECK(counts.transitions == 11);
    CHECK(counts.client_sends == 4);
    CHECK(counts.server_sends == 7);
    CHECK(counts.to_end == 2);
    CHECK(counts.messages == 9);
    static_assert(fs::protocol.message_sizes[hana::type_c<fs::Open>] == hana::size_c<12>);
    static_assert(fs::protocol.message_sizes[hana::type_c<fs::Read>] == hana::size_c<16>);
}

TEST_CASE("protocol table: shapes") {
    namespace sh = test::shapes::Shapes;
    const Counts counts = walk<sh::Client, sh::Server>(sh::protocol);
    CHECK(counts.states == 2);
    CHECK(counts.transitions == 6);
    CHECK(counts.client_sends == 5);
    CHECK(counts.server_sends == 1);
    CHECK(counts.to_end == 1);
    CHECK(counts.messages == 5);
    CHECK(counts.payload_bytes == 28 + 56 + 20 + 1 + 6);
}

// The same table as data (milk::session::StateMachine), as the host follows a
// channel at run time: built at compile time, so these hold there too.
TEST_CASE("state machine: pingpong's protocol as data agrees with the contract") {
    using milk::session::Direction;
    using milk::session::StateMachine;
    static constexpr StateMachine machine = milk::session::state_machine<demo::ping::PingPong::protocol>();
    static_assert(machine.state_names.size() == 2);
    static_assert(machine.steps.size() == 3);

    const auto tag = [](auto message_tag) { return static_cast<std::uint16_t>(message_tag); };
    using Tag = demo::ping::PingPong::Tag;
    CHECK(std::string(machine.contract) == "PingPong");
    CHECK(std::string(machine.name(machine.initial)) == "Idle");
    const auto waiting = machine.step(machine.initial, Direction::Send, tag(Tag::Ping));
    CHECK(std::string(machine.name(waiting)) == "Waiting");
    CHECK(std::string(machine.name(machine.step(waiting, Direction::Recv, tag(Tag::Pong)))) == "Idle");
    CHECK(std::string(machine.name(machine.step(machine.initial, Direction::Send, tag(Tag::Bye)))) == "end");
    // What the contract does not allow: the server's message in the client's
    // direction, a message in the wrong state, an unknown tag.
    CHECK(machine.step(waiting, Direction::Send, tag(Tag::Pong)) == StateMachine::invalid);
    CHECK(machine.step(waiting, Direction::Send, tag(Tag::Ping)) == StateMachine::invalid);
    CHECK(machine.step(machine.initial, Direction::Send, 9) == StateMachine::invalid);
    CHECK(std::string(machine.name(StateMachine::invalid)) == "?");
    // Every state of a bigger contract is named, in declaration order.
    static constexpr StateMachine files = milk::session::state_machine<demo::files::Files::protocol>();
    static_assert(files.state_names.size() == decltype(hana::length(demo::files::Files::protocol.states))::value);
    CHECK(std::string(files.name(files.initial)) == TypeOf<decltype(demo::files::Files::protocol.initial)>::milk_name);
}

// Cut points: the states where the server owes nothing, where a component may
// be moved or restarted. milkc emits them with the table; the state machine
// checks them against the transitions at compile time.
TEST_CASE("state machine: cut points are where the server waits for the client") {
    namespace ping = demo::ping::PingPong;
    static_assert(ping::protocol.cut_points == hana::tuple_t<ping::state::Idle>);
    static constexpr milk::session::StateMachine machine = milk::session::state_machine<ping::protocol>();
    static_assert(machine.cut_points.size() == 1);
    CHECK(machine.is_cut_point(machine.initial));
    const auto waiting = machine.step(machine.initial, milk::session::Direction::Send,
                                      static_cast<std::uint16_t>(ping::Tag::Ping));
    CHECK_FALSE(machine.is_cut_point(waiting));
    CHECK_FALSE(machine.is_cut_point(machine.end()));
    // Files: every state where the client speaks, and no other.
    static constexpr milk::session::StateMachine files = milk::session::state_machine<demo::files::Files::protocol>();
    for (milk::session::StateMachine::State state = 0; state < files.state_names.size(); ++state) {
        bool client_speaks = false;
        bool server_speaks = false;
        for (const auto& step : files.steps) {
            if (step.from != state) continue;
            (step.direction == milk::session::Direction::Send ? client_speaks : server_speaks) = true;
        }
        CAPTURE(files.name(state));
        CHECK(files.is_cut_point(state) == (client_speaks && !server_speaks));
    }
}
