// The C++ emitter, part 3: the protocol table and the endpoint classes.
//
// Every (role, state) gets an explicit specialisation of Client<State> or
// Server<State>. A state where this side speaks has one send() overload per
// allowed message, each returning the next state's endpoint; a state where
// it listens has receive(), receive_for() and try_receive(). Everything else
// a user might try is a catch-all member template whose static_assert says in
// words what is wrong: the texts name the contract, role, state and message,
// which is why they are generated here and not written once in
// milk/session.hpp (C++20 static_assert messages must be literals).
#include "cut_points.hpp"
#include "emit_cpp_common.hpp"
#include "identity.hpp"
#include "layout.hpp"

#include <string>
#include <vector>

namespace milkc::cpp {

namespace {

enum class Role : std::uint8_t { Client, Server };

const char* role_name(Role role) { return role == Role::Client ? "Client" : "Server"; }

class EndpointEmitter {
public:
    EndpointEmitter(std::string& out, const ContractDecl& contract, std::string_view qualified_name,
                    std::uint32_t identity)
        : m_out(out), m_contract(contract), m_qualified_name(qualified_name), m_identity(identity) {}

    void emit() {
        m_out += "\ntemplate <typename State>\n";
        m_out += "class Client;\n";
        m_out += "template <typename State>\n";
        m_out += "class Server;\n";
        for (const StateDecl& state : m_contract.states) {
            emit_class(Role::Client, state);
            emit_class(Role::Server, state);
        }
        // Out of the classes: a send returns the next state's endpoint, which
        // must be a complete type there, and states may form cycles.
        for (const StateDecl& state : m_contract.states) {
            emit_send_definitions(Role::Client, state);
            emit_send_definitions(Role::Server, state);
        }
        emit_factories();
    }

private:
    static bool speaks(Role role, const StateDecl& state) {
        // A state without transitions is one where nobody speaks (`close;`
        // alone: both sides get the sending form with nothing to send, and
        // close()). Without `close;` it cannot pass the model check; should
        // one reach here, it still compiles and allows nothing.
        if (state.transitions.empty()) return true;
        return client_sends(state) == (role == Role::Client);
    }

    // "Client<state::Idle>", or the End marker for a transition to `end`.
    static std::string next_type(Role role, const Transition& transition) {
        if (transition.ends()) return "milk::session::End";
        return std::string(role_name(role)) + "<state::" + transition.target + ">";
    }

    static std::string send_result(Role role, const Transition& transition) {
        if (transition.ends()) return "milk::session::EndResult";
        return "milk::Result<" + next_type(role, transition) + ">";
    }

    // "PingPong::Client<Idle>": names the endpoint in run-time messages.
    std::string label(Role role, const StateDecl& state) const {
        return m_contract.name + "::" + role_name(role) + "<" + state.name + ">";
    }

    // "milk: PingPong::Client in state Idle": starts every static_assert text.
    std::string assert_prefix(Role role, const StateDecl& state) const {
        return "milk: " + m_contract.name + "::" + role_name(role) + " in state " + state.name;
    }

    void emit_class(Role role, const StateDecl& state) {
        const std::string name = role_name(role);
        const std::string self = label(role, state);
        m_out += "\n";
        m_out += "template <>\n";
        m_out += "class [[nodiscard]] MILK_CONSUMABLE(unconsumed) " + name + "<state::" + state.name + "> {\n";
        m_out += "public:\n";
        m_out += "    using state_type = state::" + state.name + ";\n";
        m_out += "    static constexpr milk::session::Role role = milk::session::Role::" + name + ";\n";
        m_out += "\n";
        m_out += "    " + name + "(" + name + "&& other MILK_RETURN_TYPESTATE(consumed)) noexcept = default;\n";
        m_out += "    " + name + "& operator=(" + name + "&& other MILK_RETURN_TYPESTATE(consumed)) noexcept = default;\n";
        m_out += "    " + name + "(const " + name + "&) = delete;\n";
        m_out += "    " + name + "& operator=(const " + name + "&) = delete;\n";
        m_out += "    ~" + name + "() = default;\n";
        m_out += "\n";
        m_out += "    // A buffer of this side's exchange heap, for a `bytes` field; the endpoint stays.\n";
        m_out += "    MILK_CALLABLE_WHEN(\"unconsumed\", \"unknown\")\n";
        m_out += "    [[nodiscard]] milk::Result<milk::Buffer> allocate(std::size_t size) & {\n";
        m_out += "        m_end.require_valid(\"" + self + "::allocate\");\n";
        m_out += "        return m_end.allocate(size);\n";
        m_out += "    }\n";
        m_out += "    // Ends the channel because the peer broke a rule of this side's own (the\n";
        m_out += "    // protocol's are the decoders'): the peer's receive or send reports `reason`.\n";
        m_out += "    MILK_CALLABLE_WHEN(\"unconsumed\", \"unknown\") MILK_SET_TYPESTATE(consumed)\n";
        m_out += "    milk::Error fail(milk::Error reason) && {\n";
        m_out += "        m_end.require_valid(\"" + self + "::fail\");\n";
        m_out += "        return m_end.fail(reason);\n";
        m_out += "    }\n";
        if (speaks(role, state)) {
            emit_sender_members(role, state);
        } else {
            emit_receiver_members(role, state);
        }
        m_out += "\n";
        m_out += "private:\n";
        m_out += "    friend milk::session::detail::Access;\n";
        m_out += "    explicit " + name + "(milk::ChannelEnd&& end) : m_end(std::move(end)) {}\n";
        if (!speaks(role, state)) emit_receiver_private(role, state);
        m_out += "\n";
        m_out += "    milk::ChannelEnd m_end;\n";
        m_out += "};\n";
    }

    void emit_sender_members(Role role, const StateDecl& state) {
        const std::string prefix = assert_prefix(role, state);
        m_out += "\n";
        for (const Transition& transition : state.transitions) {
            m_out += "    MILK_CALLABLE_WHEN(\"unconsumed\", \"unknown\") MILK_SET_TYPESTATE(consumed)\n";
            m_out += "    " + send_result(role, transition) + " send(" + transition.message + " message) &&;\n";
        }
        if (state.may_close) {
            m_out += state.transitions.empty()
                         ? "    // `close;` and nothing else: the conversation is over; either side hangs up.\n"
                         : "    // `close;`: hang up instead of sending; the peer takes it as the end.\n";
            m_out += "    MILK_CALLABLE_WHEN(\"unconsumed\", \"unknown\") MILK_SET_TYPESTATE(consumed)\n";
            m_out += "    milk::session::EndResult close() && {\n";
            m_out += "        return milk::session::hang_up(std::move(m_end), \"" + label(role, state) + "::close\");\n";
            m_out += "    }\n";
        }
        m_out += "\n";
        m_out += "    template <typename Message>\n";
        m_out += "    milk::session::Rejected send(Message&&) && {\n";
        for (const MessageDecl& message : m_contract.messages) {
            bool allowed = false;
            for (const Transition& transition : state.transitions) allowed = allowed || transition.message == message.name;
            if (allowed) continue;
            m_out += "        static_assert(!std::is_same_v<std::remove_cvref_t<Message>, " + message.name + ">,\n";
            m_out += "                      \"" + prefix + " may not send " + message.name + "\");\n";
        }
        m_out += "        static_assert(milk::session::is_message_of<decltype(protocol), Message>,\n";
        m_out += "                      \"" + prefix + ": not a message of contract " + m_contract.name + "\");\n";
        m_out += "        return {};\n";
        m_out += "    }\n";
        // The deadline of a send: the endpoint stays, whatever the answer.
        const std::string self = label(role, state);
        m_out += "\n";
        m_out += "    // Waits at most `timeout` until a send will not block (the ring has room; it\n";
        m_out += "    // stays, this end being its only producer); the endpoint stays. TimedOut,\n";
        m_out += "    // PeerClosed when the peer has gone (closed, or its process died).\n";
        m_out += "    MILK_CALLABLE_WHEN(\"unconsumed\", \"unknown\")\n";
        m_out += "    [[nodiscard]] milk::Result<void> wait_for_room(std::chrono::nanoseconds timeout) & {\n";
        m_out += "        m_end.require_valid(\"" + self + "::wait_for_room\");\n";
        m_out += "        return m_end.wait_for_room(1, milk::Deadline::after(timeout));\n";
        m_out += "    }\n";
        const std::string not_receive = "\"" + prefix + " must send, not receive\"";
        for (const char* member : {"receive", "receive_for", "try_receive"}) emit_rejected(member, "&&", not_receive);
    }

    void emit_receiver_members(Role role, const StateDecl& state) {
        const std::string name = role_name(role);
        const std::string self = label(role, state);
        m_out += "\n";
        m_out += "    // Handlers, one per message (checked at compile time):\n";
        for (const Transition& transition : state.transitions) {
            if (transition.ends()) {
                m_out += "    //   (" + transition.message + "&&)  -- the channel ends\n";
            } else {
                m_out += "    //   (" + transition.message + "&&, " + next_type(role, transition) + "&&)\n";
            }
        }
        if (state.may_close) m_out += "    //   (milk::HungUp&&)  -- the peer hung up (`close;`): the channel ends\n";
        m_out += "    // receive_for() and try_receive() also need one for the timeout:\n";
        m_out += "    //   (milk::TimedOut, " + name + "<state::" + state.name + ">&&)\n";
        m_out += "    // Every handler returns the same R; the result is milk::Result<R> (R if R is a Result).\n";

        struct Variant {
            const char* member;
            const char* parameters;
            const char* wait;
            const char* deadline;
        };
        const Variant variants[] = {
            {"receive", "", "Forever", "milk::Deadline::never()"},
            {"receive_for", "std::chrono::nanoseconds timeout, ", "Bounded", "milk::Deadline::after(timeout)"},
            {"try_receive", "", "Bounded", "milk::Deadline::now()"},
        };
        for (const Variant& variant : variants) {
            m_out += "    template <typename... Handlers>\n";
            m_out += "    MILK_CALLABLE_WHEN(\"unconsumed\", \"unknown\") MILK_SET_TYPESTATE(consumed)\n";
            m_out += "    auto " + std::string(variant.member) + "(" + variant.parameters + "Handlers&&... handlers) && {\n";
            m_out += "        if constexpr (milk_accepts<Handlers...>()) {\n";
            m_out += "            return milk::session::receive<" + name + ", milk::session::Wait::" + variant.wait +
                     ", milk_incoming>(\n";
            m_out += "                std::move(m_end), \"" + self + "::" + variant.member + "\", milk_tag_error,\n";
            m_out += "                " + std::string(variant.deadline) + ", handlers...);\n";
            m_out += "        } else {\n";
            m_out += "            return milk::session::Rejected{};\n";
            m_out += "        }\n";
            m_out += "    }\n";
        }
        m_out += "\n";
        m_out += "    template <typename Message>\n";
        m_out += "    milk::session::Rejected send(Message&&) && {\n";
        m_out += "        static_assert(milk::session::always_false<Message>,\n";
        m_out += "                      \"" + assert_prefix(role, state) + " must receive, not send\");\n";
        m_out += "        return {};\n";
        m_out += "    }\n";
        emit_rejected("wait_for_room", "&", "\"" + assert_prefix(role, state) + " must receive, not send\"");
    }

    // A member this state does not have, as a template whose static_assert
    // says why (`text` is a quoted C++ string literal).
    void emit_rejected(const char* member, const char* qualifier, const std::string& text) {
        m_out += "    template <typename... Args>\n";
        m_out += "    milk::session::Rejected " + std::string(member) + "(Args&&...) " + qualifier + " {\n";
        m_out += "        static_assert(milk::session::always_false<Args...>,\n";
        m_out += "                      " + text + ");\n";
        m_out += "        return {};\n";
        m_out += "    }\n";
    }

    void emit_receiver_private(Role role, const StateDecl& state) {
        const std::string name = role_name(role);
        const std::string prefix = assert_prefix(role, state);
        m_out += "\n";
        m_out += "    using milk_incoming = milk::session::Branches<\n";
        for (std::size_t i = 0; i < state.transitions.size(); ++i) {
            const Transition& transition = state.transitions[i];
            m_out += "        milk::session::Branch<" + transition.message + ", " + next_type(role, transition) + ">";
            m_out += i + 1 < state.transitions.size() || state.may_close ? ",\n" : ">;\n";
        }
        if (state.may_close) m_out += "        milk::session::Branch<milk::HungUp, milk::session::End>>;\n";
        m_out += "    static constexpr const char* milk_tag_error = \"" + m_contract.name +
                 ": message tag not allowed in state " + state.name + "\";\n";
        m_out += "\n";
        m_out += "    template <typename... Handlers>\n";
        m_out += "    static constexpr bool milk_accepts() {\n";
        for (const Transition& transition : state.transitions) {
            m_out += "        static_assert(milk::session::handles<" + transition.message + ", " +
                     next_type(role, transition) + ", Handlers...>,\n";
            m_out += "                      \"" + prefix + " must handle message " + transition.message + "\");\n";
        }
        if (state.may_close) {
            m_out += "        static_assert(milk::session::handles<milk::HungUp, milk::session::End, Handlers...>,\n";
            m_out += "                      \"" + prefix +
                     " must handle the peer hanging up (close;): a handler taking milk::HungUp\");\n";
        }
        m_out += "        static_assert(milk::session::all_useful<" + name + ", milk_incoming, Handlers...>,\n";
        m_out += "                      \"" + prefix + ": a handler takes no message of this state\");\n";
        m_out += "        return milk::session::well_formed<" + name + ", milk_incoming, Handlers...>;\n";
        m_out += "    }\n";
    }

    void emit_send_definitions(Role role, const StateDecl& state) {
        if (!speaks(role, state)) return;
        const std::string name = role_name(role);
        for (const Transition& transition : state.transitions) {
            m_out += "\n";
            m_out += "inline " + send_result(role, transition) + " " + name + "<state::" + state.name + ">::send(" +
                     transition.message + " message) && {\n";
            m_out += "    return milk::session::send<" + next_type(role, transition) + ">(\n";
            m_out += "        std::move(m_end), \"" + label(role, state) + "::send\", std::move(message));\n";
            m_out += "}\n";
        }
    }

    // `entry state`s: where an endpoint may also start (one handed over in
    // the middle of a conversation). Only for contracts that have them.
    void emit_entry_factories(const std::string& initial) {
        std::vector<const StateDecl*> entries;
        for (const StateDecl& state : m_contract.states) {
            if (state.is_entry()) entries.push_back(&state);
        }
        if (entries.empty()) return;
        const std::string refused = "\"milk: a " + m_contract.name +
                                    " channel starts in its initial state or in an entry state\"";
        m_out += "// Where a conversation may start: the initial state and the entry states.\n";
        m_out += "template <typename State>\n";
        m_out += "inline constexpr bool is_start = false;\n";
        m_out += "template <>\n";
        m_out += "inline constexpr bool is_start<state::" + initial + "> = true;\n";
        for (const StateDecl* entry : entries) {
            m_out += "template <>\n";
            m_out += "inline constexpr bool is_start<state::" + entry->name + "> = true;\n";
        }
        m_out += "\n";
        for (Role role : {Role::Client, Role::Server}) {
            const std::string name = role_name(role);
            const std::string lower = role == Role::Client ? "client" : "server";
            m_out += "// The " + lower + "'s endpoint of a conversation that starts in `State`.\n";
            m_out += "template <typename State>\n";
            m_out += "[[nodiscard]] " + name + "<State> " + lower + "_at(milk::ChannelEnd&& end) {\n";
            m_out += "    static_assert(is_start<State>, " + refused + ");\n";
            m_out += "    return milk::session::detail::Access::make<" + name + "<State>>(std::move(end));\n";
            m_out += "}\n";
            m_out += "\n";
        }
        m_out += "template <typename State>\n";
        m_out += "struct EndpointsAt {\n";
        m_out += "    Client<State> client;\n";
        m_out += "    Server<State> server;\n";
        m_out += "};\n";
        m_out += "\n";
        m_out += "// Both endpoints of a new channel within this process, starting in `State`.\n";
        m_out += "template <typename State>\n";
        m_out += "[[nodiscard]] milk::Result<EndpointsAt<State>> open_inproc_at(milk::inproc::Options options = {}) {\n";
        m_out += "    static_assert(is_start<State>, " + refused + ");\n";
        m_out += "    milk::Result<milk::ChannelPair> pair = milk::inproc::open_channel(options);\n";
        m_out += "    if (!pair.ok()) return pair.error();\n";
        m_out += "    return EndpointsAt<State>{client_at<State>(std::move(pair.value().first)),\n";
        m_out += "                              server_at<State>(std::move(pair.value().second))};\n";
        m_out += "}\n";
        m_out += "\n";
    }

    void emit_factories() {
        const std::string initial = m_contract.initial != nullptr ? m_contract.initial->name : "";
        m_out += "\n";
        m_out += "// ";
        m_out += std::string(75, '-');
        m_out += "\n// Opening a channel\n";
        m_out += "\n";
        m_out += "// The client's endpoint in the initial state, over any transport.\n";
        m_out += "[[nodiscard]] inline Client<state::" + initial + "> client(milk::ChannelEnd&& end) {\n";
        m_out += "    return milk::session::detail::Access::make<Client<state::" + initial + ">>(std::move(end));\n";
        m_out += "}\n";
        m_out += "\n";
        m_out += "// The server's endpoint in the initial state, over any transport.\n";
        m_out += "[[nodiscard]] inline Server<state::" + initial + "> server(milk::ChannelEnd&& end) {\n";
        m_out += "    return milk::session::detail::Access::make<Server<state::" + initial + ">>(std::move(end));\n";
        m_out += "}\n";
        m_out += "\n";
        m_out += "struct Endpoints {\n";
        m_out += "    Client<state::" + initial + "> client;\n";
        m_out += "    Server<state::" + initial + "> server;\n";
        m_out += "};\n";
        m_out += "\n";
        m_out += "// Both initial endpoints of a new channel within this process.\n";
        m_out += "[[nodiscard]] inline milk::Result<Endpoints> open_inproc(milk::inproc::Options options = {}) {\n";
        m_out += "    milk::Result<milk::ChannelPair> pair = milk::inproc::open_channel(options);\n";
        m_out += "    if (!pair.ok()) return pair.error();\n";
        m_out += "    return Endpoints{client(std::move(pair.value().first)),\n";
        m_out += "                     server(std::move(pair.value().second))};\n";
        m_out += "}\n";
        m_out += "\n";
        emit_entry_factories(initial);
        m_out += "// The contract as one type, for generic code: a component names the contract it\n";
        m_out += "// serves with it, and a host hands out endpoints by it\n";
        m_out += "// (host.connect<" + m_contract.name + "::Contract>(\"instance\")). `name` is the\n";
        m_out += "// contract's name on the wire (milk.ko registers components under it);\n";
        m_out += "// `version` is its identity, a hash of its normalized form, which every\n";
        m_out += "// channel opened by contract compares; `protocol` is the protocol table above.\n";
        m_out += "struct Contract {\n";
        m_out += "    static constexpr const char* name = \"" + std::string(m_qualified_name) + "\";\n";
        m_out += "    static constexpr std::uint32_t version = " + identity_string(m_identity) + "u;\n";
        m_out += "    static constexpr const auto& protocol = " + m_contract.name + "::protocol;\n";
        m_out += "    using ClientEndpoint = Client<state::" + initial + ">;\n";
        m_out += "    using ServerEndpoint = Server<state::" + initial + ">;\n";
        m_out += "    [[nodiscard]] static ClientEndpoint client(milk::ChannelEnd&& end) {\n";
        m_out += "        return " + m_contract.name + "::client(std::move(end));\n";
        m_out += "    }\n";
        m_out += "    [[nodiscard]] static ServerEndpoint server(milk::ChannelEnd&& end) {\n";
        m_out += "        return " + m_contract.name + "::server(std::move(end));\n";
        m_out += "    }\n";
        m_out += "};\n";
    }

    std::string& m_out;
    const ContractDecl& m_contract;
    std::string_view m_qualified_name;
    std::uint32_t m_identity;
};

}  // namespace

void emit_protocol_table(std::string& out, const ContractDecl& contract) {
    const std::string hana = "boost::hana::";
    out += "\n";
    out += "inline constexpr auto protocol = milk::session::make_protocol(\n";
    out += "    \"" + contract.name + "\",\n";
    out += "    // states\n";
    out += "    " + hana + "tuple_t<";
    for (std::size_t i = 0; i < contract.states.size(); ++i) {
        if (i != 0) out += ", ";
        out += "state::" + contract.states[i].name;
    }
    out += ">,\n";
    out += "    // initial\n";
    out += "    " + hana + "type_c<state::" + (contract.initial != nullptr ? contract.initial->name : "") + ">,\n";
    out += "    // transitions: (from, direction, message, to)\n";
    out += "    " + hana + "make_tuple(";
    bool first = true;
    for (const StateDecl& state : contract.states) {
        for (const Transition& transition : state.transitions) {
            out += first ? "\n" : ",\n";
            first = false;
            out += "        milk::session::transition<state::" + state.name + ", milk::session::Direction::" +
                   (transition.direction == Direction::Send ? "Send" : "Recv") + ", " + transition.message + ", " +
                   (transition.ends() ? std::string("milk::session::End") : "state::" + transition.target) + ">";
        }
    }
    out += "),\n";
    out += "    // message sizes: payload bytes in the slot\n";
    out += "    " + hana + "make_map(";
    for (std::size_t i = 0; i < contract.messages.size(); ++i) {
        const MessageDecl& message = contract.messages[i];
        out += i == 0 ? "\n" : ",\n";
        out += "        " + hana + "make_pair(" + hana + "type_c<" + message.name + ">, " + hana + "size_c<" +
               std::to_string(layout_of(message).size) + ">)";
    }
    out += "),\n";
    out += "    // message tags\n";
    out += "    " + hana + "make_map(";
    for (std::size_t i = 0; i < contract.messages.size(); ++i) {
        const MessageDecl& message = contract.messages[i];
        out += i == 0 ? "\n" : ",\n";
        out += "        " + hana + "make_pair(" + hana + "type_c<" + message.name + ">, " + hana +
               "integral_c<std::uint16_t, " + std::to_string(message.tag) + ">)";
    }
    out += "),\n";
    out += "    // cut points: the states where the server owes nothing (it waits for the\n";
    out += "    // client), where a component may be moved or restarted\n";
    out += "    " + hana + "tuple_t<";
    bool first_point = true;
    for (const StateDecl* state : cut_points(contract)) {
        if (!first_point) out += ", ";
        first_point = false;
        out += "state::" + state->name;
    }
    out += ">);\n";
}

void emit_endpoints(std::string& out, const ContractDecl& contract, std::string_view qualified_name,
                    std::uint32_t identity) {
    EndpointEmitter(out, contract, qualified_name, identity).emit();
}

}  // namespace milkc::cpp
