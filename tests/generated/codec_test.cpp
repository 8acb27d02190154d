// Every kind of field through the generated encoders and decoders
// (contracts/shapes.contract): nested structs, arrays of numbers, bools,
// enums and structs, enums of every width at their extremes, floats, and two
// buffers in one message.
#include "names.hpp"
#include "shapes.hpp"

#include <doctest/doctest.h>
#include <milk/inproc.hpp>

#include <array>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

namespace {

// The file-level types (Color, Segment, and the struct Mark) and the
// contract's (the message Mark among them): the one name is two types.
using test::shapes::Color;
using test::shapes::Level;
using test::shapes::Segment;
using test::shapes::Tagged;
using test::shapes::Vec;
using test::shapes::Wide;
using namespace test::shapes::Shapes;
using MarkStruct = test::shapes::Mark;

// Receives one message on the server in state Open and returns the server
// in the state after it; `seen` records which message came.
template <typename Inspect>
std::optional<Server<state::Open>> receive_one(Server<state::Open>&& server, Inspect inspect) {
    std::optional<Server<state::Open>> next_server;
    auto received = std::move(server).receive(
        [&](Draw&& draw, auto&& next) {
            inspect(draw);
            next_server.emplace(std::move(next));
        },
        [&](Mark&& mark, auto&& next) {
            inspect(mark);
            next_server.emplace(std::move(next));
        },
        [&](Blob&& blob, auto&& next) {
            inspect(blob);
            next_server.emplace(std::move(next));
        },
        [&](Grant&& grant, auto&& next) {
            inspect(grant);
            next_server.emplace(std::move(next));
        },
        [&](Done&&, auto&&) { FAIL("unexpected Done"); });
    REQUIRE(received.ok());
    return next_server;
}

}  // namespace

TEST_CASE("codec: structs in a message keep their C layout") {
    // The generated static_asserts hold these too; here the numbers are
    // checked against the contract by hand, once.
    static_assert(sizeof(Vec) == 4 && sizeof(Segment) == 10 && alignof(Segment) == 2);
    static_assert(std::is_same_v<decltype(Draw::palette), std::array<Color, 3>>);
    static_assert(std::is_same_v<decltype(Mark::label), MarkStruct>);
    static_assert(std::is_same_v<decltype(Tagged::Mark), MarkStruct>);
    static_assert(!std::is_copy_constructible_v<Blob>, "a message with bytes is move-only");
    static_assert(std::is_copy_constructible_v<Draw>, "a message without bytes is a plain value");
    CHECK(milk::session::message_info<Mark>.payload_size == 56);
}

TEST_CASE("codec: every field survives the wire") {
    auto [client, server] = test::shapes::Shapes::open_inproc().value();

    Draw draw{};
    draw.segment = Segment{Vec{-32768, 32767}, Vec{1, -1}, Color::blue, true};
    draw.palette = {Color::blue, Color::red, Color::green};
    draw.flags = {false, true};
    draw.corners = {Vec{10, 20}, Vec{-30, -40}};
    draw.raw_bytes = {0, 255, 7, 128};
    auto after_draw = std::move(client).send(draw);  // a plain message may be sent as a copy
    REQUIRE(after_draw.ok());

    Mark mark{};
    mark.tagged = Tagged{MarkStruct{200}, 65535};
    mark.wide = Wide::huge;
    mark.level = Level::high;
    mark.scale = -0.125;
    mark.alpha = std::numeric_limits<float>::infinity();
    mark.when = std::numeric_limits<std::int64_t>::min();
    mark.label = MarkStruct{9};
    auto after_mark = std::move(after_draw).value().send(mark);
    REQUIRE(after_mark.ok());

    auto client_open = std::move(after_mark).value();
    milk::Buffer first = client_open.allocate(3).value();
    std::memcpy(first.data(), "one", 3);
    milk::Buffer second = client_open.allocate(5).value();
    std::memcpy(second.data(), "three", 5);
    const std::byte* first_at = first.data();
    const std::byte* second_at = second.data();
    auto after_blob = std::move(client_open).send(Blob{std::move(first), 42, std::move(second)});
    REQUIRE(after_blob.ok());

    std::optional<Server<state::Open>> open = receive_one(std::move(server), [&](const auto& message) {
        using M = std::remove_cvref_t<decltype(message)>;
        REQUIRE(std::is_same_v<M, Draw>);
        if constexpr (std::is_same_v<M, Draw>) {
            CHECK(message.segment.from.x == -32768);
            CHECK(message.segment.from.y == 32767);
            CHECK(message.segment.to.x == 1);
            CHECK(message.segment.to.y == -1);
            CHECK(message.segment.color == Color::blue);
            CHECK(message.segment.visible);
            CHECK(message.palette == draw.palette);
            CHECK(message.flags == draw.flags);
            CHECK(message.corners[1].x == -30);
            CHECK(message.corners[1].y == -40);
            CHECK(message.raw_bytes == draw.raw_bytes);
        }
    });
    REQUIRE(open.has_value());

    open = receive_one(std::move(*open), [&](const auto& message) {
        using M = std::remove_cvref_t<decltype(message)>;
        REQUIRE(std::is_same_v<M, Mark>);
        if constexpr (std::is_same_v<M, Mark>) {
            CHECK(message.tagged.Mark.id == 200);
            CHECK(message.tagged.weight == 65535);
            CHECK(message.wide == Wide::huge);
            CHECK(message.level == Level::high);
            CHECK(message.scale == -0.125);
            CHECK(message.alpha == std::numeric_limits<float>::infinity());
            CHECK(message.when == std::numeric_limits<std::int64_t>::min());
            CHECK(message.label.id == 9);
        }
    });
    REQUIRE(open.has_value());

    open = receive_one(std::move(*open), [&](const auto& message) {
        using M = std::remove_cvref_t<decltype(message)>;
        REQUIRE(std::is_same_v<M, Blob>);
        if constexpr (std::is_same_v<M, Blob>) {
            CHECK(message.kind == 42);
            CHECK(message.first.data() == first_at);
            CHECK(message.second.data() == second_at);
            CHECK(std::memcmp(message.first.data(), "one", 3) == 0);
            CHECK(std::memcmp(message.second.data(), "three", 5) == 0);
        }
    });
    REQUIRE(open.has_value());

    // Done -> Closing; the server answers Done -> end; both sides are done.
    auto closing = std::move(after_blob).value().send(Done{true});
    REQUIRE(closing.ok());
    auto served = std::move(*open).receive([](Draw&&, auto&&) { return false; }, [](Mark&&, auto&&) { return false; },
                                           [](Blob&&, auto&&) { return false; }, [](Grant&&, auto&&) { return false; },
                                           [](Done&& done, Server<state::Closing>&& next) {
                                               return done.ok && std::move(next).send(Done{false}).ok();
                                           });
    REQUIRE(served.ok());
    CHECK(served.value());
    std::optional<bool> last;
    auto finished = std::move(closing).value().receive([&](Done&& done) { last = done.ok; });
    REQUIRE(finished.ok());
    REQUIRE(last.has_value());
    CHECK_FALSE(*last);
}

TEST_CASE("codec: the sender's padding bytes never reach the wire") {
    // Tagged has a padding byte after its u8, and Mark has padding before
    // `wide` and after `label`. An encoder that copied structs whole would
    // send whatever the sender's memory held there; this one writes fields.
    Mark mark;
    std::memset(static_cast<void*>(&mark), 0xCD, sizeof mark);
    mark.tagged.Mark.id = 1;
    mark.tagged.weight = 2;
    mark.wide = Wide::small;
    mark.level = Level::low;
    mark.scale = 0;
    mark.alpha = 0;
    mark.when = 0;
    mark.label.id = 3;
    milk::Slot slot;  // as session::send makes it: all zeros
    milk::ChannelEnd no_buffers;
    REQUIRE(milk_encode(std::move(mark), no_buffers, slot).ok());
    CHECK(slot.tag == 2);
    CHECK(slot.length == 56);
    CHECK(slot.get<std::uint8_t>(0) == 1);
    CHECK(slot.get<std::uint8_t>(1) == 0);  // inside Tagged
    CHECK(slot.get<std::uint16_t>(2) == 2);
    CHECK(slot.get<std::uint32_t>(4) == 0);  // before wide
    CHECK(slot.get<std::uint8_t>(48) == 3);
    for (std::size_t offset = 49; offset < 56; ++offset) CHECK(slot.get<std::uint8_t>(offset) == 0);
}

TEST_CASE("codec: a message encoded in a reused ring slot sends zeros past its fields and in its padding") {
    // session::send encodes in the ring slot itself (Transport::
    // try_claim_slot). With two slots per direction, the third message
    // lands where the first was: whatever that one left there must not go
    // out again.
    auto [raw_client, raw_server] = milk::inproc::open_channel({.ring_capacity = 2}).value();
    auto client = test::shapes::Shapes::client(std::move(raw_client));
    for (int i = 0; i < 2; ++i) {
        Mark mark{Tagged{MarkStruct{0xAB}, 0xFFFF}, Wide::huge, Level::high, -1.0, -1.0F, -1, MarkStruct{0xEE}};
        client = std::move(client).send(std::move(mark)).value();
        const milk::Slot wide = raw_server.receive(milk::Deadline::never()).value();
        REQUIRE(wide.length == 56);
        CHECK(wide.get<std::uint8_t>(48) == 0xEE);
    }
    milk::Buffer first = client.allocate(64).value();
    milk::Buffer second = client.allocate(64).value();
    client = std::move(client).send(Blob{std::move(first), 7, std::move(second)}).value();
    const milk::Slot blob = raw_server.receive(milk::Deadline::never()).value();
    CHECK(blob.get<std::uint8_t>(8) == 7);
    // Blob is bytes (8), u8 (1), padding (3), bytes (8): the padding and
    // everything past the 20 bytes are zero, not the Marks' 0xFF bytes.
    REQUIRE(blob.length == 20);
    for (std::size_t offset = 9; offset < 12; ++offset) CHECK(blob.get<std::uint8_t>(offset) == 0);
    for (std::size_t offset = blob.length; offset < milk::slot_payload_size; ++offset)
        CHECK(blob.get<std::uint8_t>(offset) == 0);
    CHECK(blob.flags == 0);
}

TEST_CASE("codec: names that hide one another in C++ still mean the right thing") {
    namespace nt = names::test;
    auto [client, server] = nt::Names::open_inproc().value();
    milk::Buffer payload = client.allocate(4).value();
    nt::Names::Incoming incoming{nt::Incoming{nt::finish{nt::Raw::ended, 9}}, nt::Raw::slot, nt::finish{nt::Raw::slot, 1},
                                 3, 4, std::move(payload)};
    auto slot_state = std::move(client).send(std::move(incoming));
    REQUIRE(slot_state.ok());
    auto replied = std::move(server).receive([](nt::Names::Incoming&& message, auto&& next) {
        CHECK(message.tag.slot.kind == nt::Raw::ended);
        CHECK(message.tag.slot.i0 == 9);
        CHECK(message.length == nt::Raw::slot);
        CHECK(message.std == 3);
        CHECK(message.milk == 4);
        nt::Names::Reply reply{};
        reply.i0[0].slot.kind = nt::Raw::slot;  // zero is no Raw: the receiver would refuse it
        reply.i0[1].slot.kind = nt::Raw::ended;
        reply.raw = {nt::Raw::slot, nt::Raw::ended};
        reply.slot = {false, true, false};
        return std::move(next).send(reply);
    });
    REQUIRE(replied.ok());
    auto back = std::move(slot_state).value().receive([](nt::Names::Reply&& reply, auto&& next) {
        CHECK(reply.i0[1].slot.kind == nt::Raw::ended);
        CHECK(reply.raw[1] == nt::Raw::ended);
        CHECK(reply.slot[1]);
        return std::move(next);
    });
    CHECK(back.ok());
}

TEST_CASE("send deadline: wait_for_room times out on a full ring and leaves the endpoint usable") {
    // A tiny ring and a server that does not read: the client's Draws fill
    // it. A plain send would now block until the server reads; the deadline
    // of a send is wait_for_room.
    auto [client, server] = test::shapes::Shapes::open_inproc(milk::inproc::Options{.ring_capacity = 2}).value();
    Draw draw{};
    draw.segment = Segment{Vec{1, 2}, Vec{3, 4}, Color::red, false};
    draw.palette = {Color::red, Color::green, Color::blue};
    std::optional<Client<state::Open>> open{std::move(client)};
    for (int i = 0; i < 2; ++i) {
        REQUIRE(open->wait_for_room(std::chrono::milliseconds(1)).ok());
        open.emplace(std::move(*open).send(draw).value());
    }
    auto full = open->wait_for_room(std::chrono::milliseconds(2));
    REQUIRE_FALSE(full.ok());
    CHECK(full.error().code == milk::ErrorCode::TimedOut);

    // The server takes one: there is room again, and the endpoint sends.
    using Next = std::optional<Server<state::Open>>;
    auto taken = std::move(server).receive([](Draw&&, Server<state::Open>&& next) { return Next{std::move(next)}; },
                                           [](Mark&&, Server<state::Open>&& next) { return Next{std::move(next)}; },
                                           [](Blob&&, Server<state::Open>&& next) { return Next{std::move(next)}; },
                                           [](Grant&&, Server<state::Open>&& next) { return Next{std::move(next)}; },
                                           [](test::shapes::Shapes::Done&&, Server<state::Closing>&&) { return Next{}; });
    REQUIRE(taken.ok());
    REQUIRE(taken.value().has_value());
    REQUIRE(open->wait_for_room(std::chrono::seconds(5)).ok());
    open.emplace(std::move(*open).send(draw).value());
    taken.value().reset();  // the server's end closes

    // A server that has gone: PeerClosed, at once.
    auto gone = open->wait_for_room(std::chrono::seconds(30));
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error().code == milk::ErrorCode::PeerClosed);
}

TEST_CASE("codec: flags travel as the OR of their bits, none included") {
    using test::shapes::Access;
    static_assert(is_valid(Access::read | Access::exec));
    static_assert(is_valid(Access{}));
    static_assert(!is_valid(static_cast<Access>(4)));
    static_assert(((Access::read | Access::write) & Access::write) == Access::write);
    auto [client, server] = test::shapes::Shapes::open_inproc().value();
    auto sent = std::move(client).send(Grant{Access::read | Access::exec, {Access{}, Access::write}});
    REQUIRE(sent.ok());
    std::optional<Server<state::Open>> open = receive_one(std::move(server), [&](const auto& message) {
        using M = std::remove_cvref_t<decltype(message)>;
        REQUIRE(std::is_same_v<M, Grant>);
        if constexpr (std::is_same_v<M, Grant>) {
            CHECK(message.access == (Access::read | Access::exec));
            CHECK(message.more[0] == Access{});
            CHECK(message.more[1] == Access::write);
        }
    });
    CHECK(open.has_value());
}
