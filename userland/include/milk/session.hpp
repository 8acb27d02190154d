// Support for the headers milkc generates: the parts every contract shares.
//
// A generated header (see docs/generated-code.md) declares message structs,
// state tag types and one endpoint class per (role, state). What those classes
// do is the same for every contract, so it lives here once: sending a message
// and turning the endpoint into the next state's, receiving a slot and
// dispatching it to the handler of its message, the compile-time checks on
// handlers, and the building blocks of the Boost.Hana protocol table (the
// typestate macros for clang's -Wconsumed come from typestate.hpp). Generated
// code supplies only what is specific to a contract: field offsets,
// validation, and the exact texts of the static_asserts that name messages
// and states.
#pragma once

#include "channel.hpp"
#include "deadline.hpp"
#include "result.hpp"
#include "slot.hpp"
#include "typestate.hpp"

#include <cstring>

#include <boost/hana/contains.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/map.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

namespace milk {

// What the timeout handler of receive_for() and try_receive() receives first;
// its second argument is the endpoint, back in the state it was in.
struct TimedOut {};

// What a receive's hang-up handler takes, in a state whose contract says
// `close;`: the peer closed the channel instead of sending, which that state
// allows; the session is over (the handler gets no endpoint). In any other
// state a closed channel is an error (PeerClosed), as before.
struct HungUp {};

namespace session {

// The target of a transition to `end`. Sending such a message returns an
// EndResult: there is no endpoint after `end`, so nothing can be sent.
struct End {};

enum class Role : std::uint8_t { Client, Server };

// As the contract writes it: `send` = the client speaks, `recv` = the server speaks.
enum class Direction : std::uint8_t { Send, Recv };

// What a generated header tells the machinery about one message. Found by
// argument-dependent lookup as milk_message_info(std::type_identity<M>{}),
// next to milk_encode(M&&, ChannelEnd&, Slot&) and
// milk_decode(std::type_identity<M>, const Slot&, ChannelEnd&).
struct MessageInfo {
    std::uint16_t tag;
    std::uint16_t payload_size;
    const char* name;
};

template <typename Message>
inline constexpr MessageInfo message_info = milk_message_info(std::type_identity<Message>{});

// A state that says `close;` has this branch beside its messages' (last): the
// peer's hang-up, taken by a handler h(HungUp&&) like a message that ends the
// session. It has no tag: no slot ever matches it.
template <>
inline constexpr MessageInfo message_info<HungUp> = {0, 0, "(hang-up)"};

// One way a receive can go: `Message` arrives and the endpoint becomes `Next`
// (an endpoint type, or End).
template <typename Message, typename Next>
struct Branch {
    using message = Message;
    using next = Next;
};

// All branches of one receive state, in declaration order.
template <typename... B>
struct Branches {};

// For static_asserts that must only fire when a template is instantiated.
template <typename...>
inline constexpr bool always_false = false;

// What an operation returns that its state does not allow, after its
// static_assert failed. It has no members: it exists so that `auto r = ...`
// around the bad call does not add a second, misleading error ("variable has
// incomplete type void") in front of the static_assert's text.
struct Rejected {};

// What EndResult::value() gives: no endpoint. The session ended with the
// send, so there is nothing to send or receive on; these members exist only
// so that the misuse fails with milk's own text instead of the compiler's
// "invalid use of 'void'" (g++) or "member reference base type 'void'"
// (clang).
struct NoEndpoint {
    template <typename... Args>
    Rejected send(Args&&...) const {
        static_assert(always_false<Args...>,
                      "milk: the session has ended: after a send to `end` there is no endpoint to send on");
        return {};
    }
    template <typename... Args>
    Rejected receive(Args&&...) const {
        static_assert(always_false<Args...>,
                      "milk: the session has ended: after a send to `end` there is no endpoint to receive on");
        return {};
    }
    template <typename... Args>
    Rejected receive_for(Args&&...) const {
        static_assert(always_false<Args...>,
                      "milk: the session has ended: after a send to `end` there is no endpoint to receive on");
        return {};
    }
    template <typename... Args>
    Rejected try_receive(Args&&...) const {
        static_assert(always_false<Args...>,
                      "milk: the session has ended: after a send to `end` there is no endpoint to receive on");
        return {};
    }
};

// The result of a send that ends the session: a Result<void> (it converts
// to one, so code that stores or returns a Result<void> keeps working) whose
// value() is a NoEndpoint rather than void.
class [[nodiscard]] EndResult : public Result<void> {
public:
    using Result<void>::Result;
    EndResult(const Result<void>& result) : Result<void>(result) {}  // NOLINT: implicit by design

    // Aborts with the error if the send failed.
    NoEndpoint value() const {
        Result<void>::value();
        return {};
    }
};

// ---------------------------------------------------------------------------
// Handlers: which handler takes which message.
//
// A receive takes a list of handlers. The handler for message M is the first
// one callable as h(M&&, Next&&), or as h(M&&) when M ends the session. The
// timeout handler is the first one callable as h(TimedOut, Self&&).

template <typename Handler, typename Message, typename Next>
struct Takes : std::is_invocable<Handler&, Message&&, Next&&> {};
template <typename Handler, typename Message>
struct Takes<Handler, Message, End> : std::is_invocable<Handler&, Message&&> {};

template <typename Handler, typename Message, typename Next>
inline constexpr bool takes = Takes<Handler, Message, Next>::value;

template <typename Handler, typename Self>
inline constexpr bool takes_timeout = std::is_invocable_v<Handler&, TimedOut, Self&&>;

// The position of the first true value, or the number of values.
template <bool... Matches>
inline constexpr std::size_t first_match = [] {
    constexpr bool matches[] = {Matches..., true};
    std::size_t index = 0;
    while (!matches[index]) ++index;
    return index;
}();

template <typename Message, typename Next, typename... Handlers>
inline constexpr std::size_t handler_index = first_match<takes<Handlers, Message, Next>...>;

template <typename Self, typename... Handlers>
inline constexpr std::size_t timeout_index = first_match<takes_timeout<Handlers, Self>...>;

// True when some handler takes `Message`; the generated receive members
// static_assert it per message, with a text that names the message.
template <typename Message, typename Next, typename... Handlers>
inline constexpr bool handles = handler_index<Message, Next, Handlers...> < sizeof...(Handlers);

// True when `Handler` takes at least one message of the state (or the timeout).
template <typename Handler, typename Self, typename... B>
inline constexpr bool useful_in = (takes<Handler, typename B::message, typename B::next> || ...) ||
                                  takes_timeout<Handler, Self>;

template <typename Self, typename Incoming, typename... Handlers>
struct AllUseful;
template <typename Self, typename... B, typename... Handlers>
struct AllUseful<Self, Branches<B...>, Handlers...>
    : std::bool_constant<(useful_in<Handlers, Self, B...> && ...)> {};

// True when every handler takes some message of the state (a handler that
// takes none is almost certainly written for another state).
template <typename Self, typename Incoming, typename... Handlers>
inline constexpr bool all_useful = AllUseful<Self, Incoming, Handlers...>::value;

template <std::size_t Index, typename... Handlers>
decltype(auto) pick(Handlers&... handlers) {
    return std::get<Index>(std::tie(handlers...));
}

template <typename Message, typename Next, typename... Handlers>
struct HandlerResult {
    using Handler = std::tuple_element_t<handler_index<Message, Next, Handlers...>, std::tuple<Handlers...>>;
    using type = std::invoke_result_t<Handler&, Message&&, Next&&>;
};
template <typename Message, typename... Handlers>
struct HandlerResult<Message, End, Handlers...> {
    using Handler = std::tuple_element_t<handler_index<Message, End, Handlers...>, std::tuple<Handlers...>>;
    using type = std::invoke_result_t<Handler&, Message&&>;
};

// What a receive returns for handlers returning R: Result<R>, except that a
// handler returning a Result<T> itself gives Result<T> (its errors and the
// channel's errors come back the same way).
template <typename R>
struct ReceiveResult {
    using type = Result<R>;
};
template <typename T>
struct ReceiveResult<Result<T>> {
    using type = Result<T>;
};

// Whether a receive may give up: receive() waits until a message or an error
// comes; receive_for() and try_receive() hand the endpoint back on timeout.
enum class Wait : std::uint8_t { Forever, Bounded };

template <typename Self, Wait wait, typename Incoming, typename... Handlers>
struct ReceiveTypes;
template <typename Self, Wait wait, typename... B, typename... Handlers>
struct ReceiveTypes<Self, wait, Branches<B...>, Handlers...> {
    // What the handler of one branch returns.
    template <typename Alternative>
    using Of = typename HandlerResult<typename Alternative::message, typename Alternative::next, Handlers...>::type;
    using First = Of<std::tuple_element_t<0, std::tuple<B...>>>;

    static constexpr std::size_t timeout = timeout_index<Self, Handlers...>;
    static constexpr bool has_timeout = timeout < sizeof...(Handlers);

    static constexpr bool same_results = (std::is_same_v<First, Of<B>> && ...);
    static constexpr bool timeout_needed = wait == Wait::Bounded && !has_timeout;
    static constexpr bool timeout_result_ok = [] {
        if constexpr (wait == Wait::Bounded && has_timeout) {
            using Handler = std::tuple_element_t<timeout, std::tuple<Handlers...>>;
            return std::is_same_v<First, std::invoke_result_t<Handler&, TimedOut, Self&&>>;
        } else {
            return true;
        }
    }();
    // receive() waits without limit, so a handler that takes only the
    // timeout would never run: almost certainly receive_for() was meant.
    static constexpr bool timeout_unused =
        wait == Wait::Forever && has_timeout &&
        !(takes<std::tuple_element_t<(has_timeout ? timeout : 0), std::tuple<Handlers...>>, typename B::message,
                typename B::next> ||
          ...);
    static constexpr bool valid = same_results && !timeout_needed && timeout_result_ok && !timeout_unused;

    using Out = typename ReceiveResult<First>::type;
};

// Whether a receive's handlers are complete and fit the state: every message
// handled, every handler of use. Generated receive members static_assert the
// parts with texts that name messages, and instantiate the receive only when
// this holds, so that a mistake gives one clear error and not a cascade.
template <typename Self, typename Incoming, typename... Handlers>
struct WellFormed;
template <typename Self, typename... B, typename... Handlers>
struct WellFormed<Self, Branches<B...>, Handlers...>
    : std::bool_constant<(handles<typename B::message, typename B::next, Handlers...> && ...) &&
                         all_useful<Self, Branches<B...>, Handlers...>> {};

template <typename Self, typename Incoming, typename... Handlers>
inline constexpr bool well_formed = WellFormed<Self, Incoming, Handlers...>::value;

template <typename Out, typename Handler, typename... Args>
Out invoke_into(Handler& handler, Args&&... args) {
    if constexpr (std::is_void_v<std::invoke_result_t<Handler&, Args&&...>>) {
        handler(std::forward<Args>(args)...);
        return Out{};
    } else {
        return Out(handler(std::forward<Args>(args)...));
    }
}

// ---------------------------------------------------------------------------
// The operations behind the generated members.

namespace detail {

// The one door to an endpoint's private constructor. Generated endpoint
// classes befriend it; it is not part of the public API (an endpoint in an
// arbitrary state must not be made from a bare channel end).
struct Access {
    template <typename Endpoint>
    static Endpoint make(ChannelEnd&& end) {
        return Endpoint(std::move(end));
    }
    // The channel under an endpoint, for the host alone: it parks a
    // component's channel at a cut point (milk/host/movable.hpp) and later
    // makes the same endpoint again with make(). Not a way out of the
    // protocol: nothing but the host's serving loop calls it, and only on
    // the endpoint of a state where the client speaks.
    template <typename Endpoint>
    static ChannelEnd take(Endpoint&& endpoint) {
        return std::move(endpoint.m_end);
    }
};

template <typename Next>
using SendResult = std::conditional_t<std::is_same_v<Next, End>, EndResult, Result<Next>>;

template <typename Self, typename Out, typename B, typename... Handlers>
Out deliver(const Slot& slot, ChannelEnd&& end, Handlers&... handlers) {
    using Message = typename B::message;
    using Next = typename B::next;
    // The decoder checks length, flags, every enum and bool, and imports the
    // buffers; on a violation it has already closed the channel with the
    // reason, so the peer learns why.
    Result<Message> message = milk_decode(std::type_identity<Message>{}, slot, end);
    if (!message.ok()) return message.error();
    auto& handler = pick<handler_index<Message, Next, Handlers...>>(handlers...);
    if constexpr (std::is_same_v<Next, End>) {
        end.close();
        return invoke_into<Out>(handler, std::move(message).value());
    } else {
        return invoke_into<Out>(handler, std::move(message).value(), Access::make<Next>(std::move(end)));
    }
}

template <typename Self, typename Out, typename B, typename... Rest, typename... Handlers>
Out dispatch(const Slot& slot, ChannelEnd&& end, const char* tag_error, Branches<B, Rest...>,
             Handlers&... handlers) {
    // The hang-up is no message: a slot never stands for it (a zeroed one
    // with tag 0 included).
    constexpr bool hang_up = std::is_same_v<typename B::message, HungUp>;
    if constexpr (!hang_up) {
        if (slot.tag == message_info<typename B::message>.tag) {
            return deliver<Self, Out, B>(slot, std::move(end), handlers...);
        }
    }
    if constexpr (sizeof...(Rest) == 0) {
        // The tag is not one this state may receive: the peer broke the
        // contract (or does not follow it at all).
        return end.fail(Error{ErrorCode::ProtocolViolation, tag_error, slot.tag});
    } else {
        return dispatch<Self, Out>(slot, std::move(end), tag_error, Branches<Rest...>{}, handlers...);
    }
}

// Whether the state's branches include the peer's hang-up (`close;`).
template <typename Incoming>
struct Closable;
template <typename... B>
struct Closable<Branches<B...>> : std::bool_constant<(std::is_same_v<typename B::message, HungUp> || ...)> {};

}  // namespace detail

// Sends `message` on the endpoint's channel end and returns the endpoint of
// the next state (or, for a transition to `end`, closes the channel). The
// endpoint is consumed whatever happens: on an error the channel is closed,
// and buffers of the message that were not handed over are released.
template <typename Next, typename Message>
detail::SendResult<Next> send(ChannelEnd&& self, const char* operation, Message&& message) {
    self.require_valid(operation);
    ChannelEnd end = std::move(self);
    // std::forward, not std::move: generated members pass an rvalue, and an
    // lvalue (which milk_encode(M&&) does not take) must not be moved silently.
    if (Slot* claimed = end.try_claim_slot()) {
        // Encoded in the ring itself (Transport::try_claim_slot), zeroed
        // first so that padding between fields goes out as zeros. A failed
        // encode publishes nothing.
        std::memset(static_cast<void*>(claimed), 0, sizeof(Slot));
        Result<void> encoded = milk_encode(std::forward<Message>(message), end, *claimed);
        if (!encoded.ok()) return encoded.error();
        Result<void> sent = end.send_claimed();
        if (!sent.ok()) return sent.error();
    } else {
        // A fresh slot is all zeros, so padding between fields goes out as zeros.
        Slot slot;
        Result<void> encoded = milk_encode(std::forward<Message>(message), end, slot);
        if (!encoded.ok()) return encoded.error();
        Result<void> sent = end.send(slot);
        if (!sent.ok()) return sent.error();
    }
    if constexpr (std::is_same_v<Next, End>) {
        end.close();
        return EndResult{};
    } else {
        return detail::Access::make<Next>(std::move(end));
    }
}

// Receives one message and calls its handler with the message and the next
// endpoint. With Wait::Bounded, a deadline that passes (or, for
// Deadline::now(), an empty ring) calls the timeout handler with the same
// endpoint instead. Every other error ends the endpoint and comes back as the
// result's error.
template <typename Self, Wait wait, typename Incoming, typename... Handlers>
typename ReceiveTypes<Self, wait, Incoming, Handlers...>::Out receive(ChannelEnd&& self, const char* operation,
                                                                      const char* tag_error, Deadline deadline,
                                                                      Handlers&... handlers) {
    using Types = ReceiveTypes<Self, wait, Incoming, Handlers...>;
    using Out = typename Types::Out;
    static_assert(Types::same_results, "milk: every handler of a receive must return the same type");
    static_assert(!Types::timeout_needed,
                  "milk: receive_for and try_receive need a handler taking (milk::TimedOut, endpoint&&), "
                  "which gets the endpoint back");
    static_assert(!Types::timeout_unused,
                  "milk: receive() never times out, so its milk::TimedOut handler would never run; "
                  "use receive_for() or try_receive()");
    static_assert(Types::timeout_result_ok,
                  "milk: the milk::TimedOut handler must return the same type as the other handlers");
    if constexpr (!Types::valid) {
        // Never runs: one of the static_asserts above failed. Returning here
        // keeps the compiler from piling further errors onto that one.
        return Out(Error{ErrorCode::InvalidArgument});
    } else {
        self.require_valid(operation);
        ChannelEnd end = std::move(self);
        Result<Slot> slot = end.receive(deadline);
        if constexpr (detail::Closable<Incoming>::value) {
            // The peer hung up where the contract lets it (`close;`): the
            // session's end, handed to the hang-up handler.
            if (!slot.ok() && slot.error().code == ErrorCode::PeerClosed) {
                end.close();
                return invoke_into<Out>(pick<handler_index<HungUp, End, Handlers...>>(handlers...), HungUp{});
            }
        }
        if (!slot.ok()) {
            if constexpr (wait == Wait::Bounded) {
                const ErrorCode code = slot.error().code;
                if (code == ErrorCode::TimedOut || code == ErrorCode::WouldBlock) {
                    auto& handler = pick<Types::timeout>(handlers...);
                    return invoke_into<Out>(handler, TimedOut{}, detail::Access::make<Self>(std::move(end)));
                }
            }
            return slot.error();
        }
        return detail::dispatch<Self, Out>(slot.value(), std::move(end), tag_error, Incoming{}, handlers...);
    }
}

// `close;`: the side that speaks hangs up instead of sending (or, in a state
// where nobody speaks, either side ends the session). The endpoint is
// consumed; the peer's receive in that state calls its hang-up handler.
inline EndResult hang_up(ChannelEnd&& self, const char* operation) {
    self.require_valid(operation);
    ChannelEnd end = std::move(self);
    end.close();
    return EndResult{};
}

// Decoder helpers, used by generated milk_decode() functions.

// Copies a `bytes` handle out of the slot and takes ownership of the region.
// A bad handle (out of bounds, not the sender's, already ours) closes the
// channel with the transport's reason.
[[nodiscard]] inline Result<void> get_bytes(const Slot& slot, std::size_t offset, ChannelEnd& end, Buffer& out) {
    Result<Buffer> buffer = end.import_buffer(slot.get<WireBytes>(offset));
    if (!buffer.ok()) return end.fail(buffer.error());
    out = std::move(buffer).value();
    return {};
}

// Hands a buffer to the transport and writes its handle into the slot.
[[nodiscard]] inline Result<void> put_bytes(Slot& slot, std::size_t offset, ChannelEnd& end, Buffer&& buffer) {
    Result<WireBytes> wire = end.export_buffer(std::move(buffer));
    if (!wire.ok()) return wire.error();
    slot.put(offset, wire.value());
    return {};
}

// ---------------------------------------------------------------------------
// The protocol table (Boost.Hana). Each generated contract has one:
//
//   PingPong::protocol.name            "PingPong"
//   PingPong::protocol.states          hana::tuple of hana::type_c<state::X>, declaration order
//   PingPong::protocol.initial         hana::type_c<state::Initial>
//   PingPong::protocol.transitions     hana::tuple of transitions (below)
//   PingPong::protocol.message_sizes   hana::map: hana::type_c<Message> -> hana::size_c<payload bytes>
//   PingPong::protocol.message_tags    hana::map: hana::type_c<Message> -> hana::integral_c<std::uint16_t, tag>
//
// A transition is a hana::tuple (from, direction, message, to): type_c of the
// state, hana::integral_c<Direction, ...>, type_c of the message, and type_c
// of the target state or of End.

template <typename From, Direction direction, typename Message, typename To>
inline constexpr auto transition =
    boost::hana::make_tuple(boost::hana::type_c<From>, boost::hana::integral_c<Direction, direction>,
                            boost::hana::type_c<Message>, boost::hana::type_c<To>);

template <typename States, typename Initial, typename Transitions, typename Sizes, typename Tags, typename CutPoints>
struct Protocol {
    const char* name;
    States states;
    Initial initial;
    Transitions transitions;
    Sizes message_sizes;
    Tags message_tags;
    // The states where the server owes nothing (milkc's cut_points.hpp):
    // where a component may be moved or restarted.
    CutPoints cut_points;
};

// Whether `Message` is one of the messages of the contract whose protocol
// table has type `Protocol` (for the catch-all send's static_assert).
template <typename Protocol, typename Message>
inline constexpr bool is_message_of = decltype(boost::hana::contains(
    std::declval<Protocol>().message_sizes, boost::hana::type_c<std::remove_cvref_t<Message>>))::value;

template <typename States, typename Initial, typename Transitions, typename Sizes, typename Tags, typename CutPoints>
constexpr Protocol<States, Initial, Transitions, Sizes, Tags, CutPoints> make_protocol(
    const char* name, States states, Initial initial, Transitions transitions, Sizes sizes, Tags tags,
    CutPoints cut_points) {
    return {name, states, initial, transitions, sizes, tags, cut_points};
}

}  // namespace session
}  // namespace milk
