// A peer that breaks the contract: slots crafted by hand on a raw channel end
// and sent to a typed endpoint. The typed side must refuse each one with the
// reason, close the channel so that the raw side learns it, never call a
// handler, and give back every buffer it had taken from the bad message.
#include "pingpong.hpp"
#include "shapes.hpp"

#include <doctest/doctest.h>

#include <cstring>

namespace {

namespace ping = demo::ping::PingPong;
namespace shapes = test::shapes::Shapes;

// A typed PingPong client in state Waiting, and the raw end it talks to,
// which has already taken the client's Ping off the ring.
struct WaitingClient {
    ping::Client<ping::state::Waiting> client;
    milk::ChannelEnd raw;
};

WaitingClient waiting_client() {
    milk::ChannelPair pair = milk::inproc::open_channel().value();
    auto idle = ping::client(std::move(pair.first));
    milk::Buffer payload = idle.allocate(8).value();
    auto waiting = std::move(idle).send(ping::Ping{1, std::move(payload)});
    REQUIRE(waiting.ok());
    milk::Result<milk::Slot> ping_slot = pair.second.receive(milk::Deadline::never());
    REQUIRE(ping_slot.ok());
    REQUIRE(ping_slot.value().tag == 1);
    return {std::move(waiting).value(), std::move(pair.second)};
}

// A Pong as the wire has it: seq at 0, mode at 4, where.x at 8, where.y at 12.
milk::Slot pong_slot(std::uint8_t mode) {
    milk::Slot slot;
    slot.tag = 2;
    slot.length = 16;
    slot.put<std::uint32_t>(0, 5);
    slot.put<std::uint8_t>(4, mode);
    slot.put<std::int32_t>(8, -3);
    slot.put<std::int32_t>(12, 4);
    return slot;
}

struct Refusal {
    milk::Error error;       // what the typed receive returned
    milk::Error peer_error;  // what the raw side's next receive returned
    bool handled;            // whether a handler ran (it must not)
};

// Sends `bad` from the raw side and lets the typed client receive it.
Refusal refuse(const milk::Slot& bad) {
    WaitingClient peer = waiting_client();
    REQUIRE(peer.raw.send(bad).ok());
    bool handled = false;
    auto received = std::move(peer.client).receive([&](ping::Pong&&, auto&&) { handled = true; });
    REQUIRE_FALSE(received.ok());
    milk::Result<milk::Slot> after = peer.raw.receive(milk::Deadline::never());
    REQUIRE_FALSE(after.ok());
    return {received.error(), after.error(), handled};
}

void check_refused(const Refusal& refusal, milk::ErrorCode code, const char* what, std::int64_t detail) {
    CHECK_FALSE(refusal.handled);
    CHECK(refusal.error.code == code);
    REQUIRE(refusal.error.what != nullptr);
    CHECK(std::string(refusal.error.what) == what);
    CHECK(refusal.error.detail == detail);
    // The raw side learns why the channel closed.
    CHECK(refusal.peer_error.code == code);
    CHECK(refusal.peer_error.detail == detail);
}

// A typed Shapes server in its initial state and the raw client end.
struct OpenServer {
    shapes::Server<shapes::state::Open> server;
    milk::ChannelEnd raw;
};

OpenServer open_server(milk::inproc::Options options = {}) {
    milk::ChannelPair pair = milk::inproc::open_channel(options).value();
    return {shapes::server(std::move(pair.second)), std::move(pair.first)};
}

// Receives one message on the Shapes server, with a handler for each message
// of state Open that records that it ran.
milk::Result<void> receive_on(OpenServer& peer, bool& handled) {
    return std::move(peer.server).receive([&](shapes::Draw&&, auto&&) { handled = true; },
                                          [&](shapes::Mark&&, auto&&) { handled = true; },
                                          [&](shapes::Blob&&, auto&&) { handled = true; },
                                          [&](shapes::Grant&&, auto&&) { handled = true; },
                                          [&](shapes::Done&&, auto&&) { handled = true; });
}

Refusal refuse_on_server(const milk::Slot& bad) {
    OpenServer peer = open_server();
    REQUIRE(peer.raw.send(bad).ok());
    bool handled = false;
    milk::Result<void> received = receive_on(peer, handled);
    REQUIRE_FALSE(received.ok());
    milk::Result<milk::Slot> after = peer.raw.receive(milk::Deadline::never());
    REQUIRE_FALSE(after.ok());
    return {received.error(), after.error(), handled};
}

// A Draw as the wire has it (28 bytes), all fields valid.
milk::Slot draw_slot() {
    milk::Slot slot;
    slot.tag = 1;
    slot.length = 28;
    slot.put<std::uint8_t>(8, 2);   // segment.color = green
    slot.put<std::uint8_t>(9, 1);   // segment.visible = true
    slot.put<std::uint8_t>(10, 1);  // palette = red, green, blue
    slot.put<std::uint8_t>(11, 2);
    slot.put<std::uint8_t>(12, 4);
    return slot;
}

}  // namespace

TEST_CASE("violation: a well-formed hand-made slot is accepted (the crafting is right)") {
    WaitingClient peer = waiting_client();
    REQUIRE(peer.raw.send(pong_slot(2)).ok());
    bool handled = false;
    auto received = std::move(peer.client).receive([&](ping::Pong&& pong, auto&& next) {
        handled = true;
        CHECK(pong.seq == 5);
        CHECK(pong.mode == demo::ping::Mode::safe);
        CHECK(pong.where.x == -3);
        CHECK(pong.where.y == 4);
        return std::move(next);
    });
    CHECK(received.ok());
    CHECK(handled);
}

TEST_CASE("violation: an enum value the contract does not declare") {
    check_refused(refuse(pong_slot(3)), milk::ErrorCode::ProtocolViolation,
                  "PingPong: enum Mode out of range in Pong.mode", 3);
    check_refused(refuse(pong_slot(0)), milk::ErrorCode::ProtocolViolation,
                  "PingPong: enum Mode out of range in Pong.mode", 0);
}

TEST_CASE("violation: a tag this state may not receive") {
    milk::Slot ping = pong_slot(1);
    ping.tag = 1;  // Ping: the client's own message, never the server's
    check_refused(refuse(ping), milk::ErrorCode::ProtocolViolation,
                  "PingPong: message tag not allowed in state Waiting", 1);

    milk::Slot zero = pong_slot(1);
    zero.tag = 0;
    check_refused(refuse(zero), milk::ErrorCode::ProtocolViolation,
                  "PingPong: message tag not allowed in state Waiting", 0);

    milk::Slot unknown = pong_slot(1);
    unknown.tag = 999;
    check_refused(refuse(unknown), milk::ErrorCode::ProtocolViolation,
                  "PingPong: message tag not allowed in state Waiting", 999);
}

TEST_CASE("violation: a wrong payload length or reserved flags") {
    milk::Slot longer = pong_slot(1);
    longer.length = 20;
    check_refused(refuse(longer), milk::ErrorCode::ProtocolViolation,
                  "PingPong: Pong with a wrong payload length or flags", 20);

    milk::Slot flagged = pong_slot(1);
    flagged.flags = 1;
    check_refused(refuse(flagged), milk::ErrorCode::ProtocolViolation,
                  "PingPong: Pong with a wrong payload length or flags", 16);
}

TEST_CASE("violation: a bool other than 0 or 1") {
    milk::Slot done;
    done.tag = 4;
    done.length = 1;
    done.put<std::uint8_t>(0, 2);
    check_refused(refuse_on_server(done), milk::ErrorCode::ProtocolViolation,
                  "Shapes: bool other than 0 or 1 in Done.ok", 2);

    milk::Slot draw = draw_slot();
    draw.put<std::uint8_t>(14, 7);  // flags[1]
    check_refused(refuse_on_server(draw), milk::ErrorCode::ProtocolViolation,
                  "Shapes: bool other than 0 or 1 in Draw.flags[]", 7);
}

TEST_CASE("violation: enums inside structs and arrays, and 64-bit enums") {
    milk::Slot nested = draw_slot();
    nested.put<std::uint8_t>(8, 3);  // segment.color
    check_refused(refuse_on_server(nested), milk::ErrorCode::ProtocolViolation,
                  "Shapes: enum Color out of range in Draw.segment.color", 3);

    milk::Slot element = draw_slot();
    element.put<std::uint8_t>(11, 8);  // palette[1]
    check_refused(refuse_on_server(element), milk::ErrorCode::ProtocolViolation,
                  "Shapes: enum Color out of range in Draw.palette[]", 8);

    milk::Slot wide;
    wide.tag = 2;
    wide.length = 56;
    wide.put<std::uint64_t>(8, 5);            // wide: neither small nor huge
    wide.put<std::uint32_t>(16, 4000000000);  // level: high
    check_refused(refuse_on_server(wide), milk::ErrorCode::ProtocolViolation,
                  "Shapes: enum Wide out of range in Mark.wide", 5);
}

TEST_CASE("violation: a buffer handle outside the sender's pool") {
    OpenServer peer = open_server();
    milk::Slot blob;
    blob.tag = 3;
    blob.length = 20;
    blob.put(0, milk::WireBytes{0xfffff000u, 64});
    blob.put(12, milk::WireBytes{0xfffff000u, 64});
    REQUIRE(peer.raw.send(blob).ok());
    bool handled = false;
    milk::Result<void> received = receive_on(peer, handled);
    REQUIRE_FALSE(received.ok());
    CHECK(received.error().code == milk::ErrorCode::BadBuffer);
    CHECK_FALSE(handled);
    milk::Result<milk::Slot> after = peer.raw.receive(milk::Deadline::never());
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == milk::ErrorCode::BadBuffer);
}

TEST_CASE("violation: when the second buffer of a message is bad, the first goes back to its owner") {
    // A small pool, filled up by the raw side, so that whether the first
    // buffer came back is visible: only then can the raw side allocate again.
    constexpr std::uint32_t pool = 4096;
    milk::inproc::Options options;
    options.heap_bytes_per_side = pool;
    OpenServer peer = open_server(options);
    milk::Buffer first = peer.raw.allocate(pool / 2).value();
    milk::Buffer keep = peer.raw.allocate(pool / 2).value();
    REQUIRE_FALSE(peer.raw.allocate(pool / 2).ok());  // the pool is full: the check below can fail

    milk::Slot blob;
    blob.tag = 3;
    blob.length = 20;
    blob.put(0, peer.raw.export_buffer(std::move(first)).value());
    blob.put<std::uint8_t>(8, 1);
    blob.put(12, milk::WireBytes{0xfffff000u, 64});
    REQUIRE(peer.raw.send(blob).ok());

    bool handled = false;
    milk::Result<void> received = receive_on(peer, handled);
    REQUIRE_FALSE(received.ok());
    CHECK(received.error().code == milk::ErrorCode::BadBuffer);
    CHECK_FALSE(handled);
    // The typed side had imported `first` before it found `second` bad; it
    // released it, so it is back in the raw side's pool.
    CHECK(peer.raw.allocate(pool / 2).ok());
}

TEST_CASE("violation: a message that cannot be sent releases its buffers") {
    // A buffer of another channel cannot travel on this one. The send fails,
    // the endpoint is gone, and the foreign buffer goes back to its own pool.
    constexpr std::uint32_t pool = 4096;
    milk::inproc::Options small;
    small.heap_bytes_per_side = pool;
    milk::ChannelPair other = milk::inproc::open_channel(small).value();
    milk::Buffer foreign = other.first.allocate(pool).value();
    REQUIRE_FALSE(other.first.allocate(pool).ok());

    auto [client, server] = shapes::open_inproc().value();
    milk::Buffer own = client.allocate(64).value();
    auto sent = std::move(client).send(shapes::Blob{std::move(own), 1, std::move(foreign)});
    REQUIRE_FALSE(sent.ok());
    CHECK(other.first.allocate(pool).ok());

    // The sender's endpoint was consumed by the failed send, so the channel
    // is closed: the server hears PeerClosed, not a half-sent message.
    bool handled = false;
    auto received = std::move(server).receive([&](shapes::Draw&&, auto&&) { handled = true; },
                                              [&](shapes::Mark&&, auto&&) { handled = true; },
                                              [&](shapes::Blob&&, auto&&) { handled = true; },
                                              [&](shapes::Grant&&, auto&&) { handled = true; },
                                              [&](shapes::Done&&, auto&&) { handled = true; });
    REQUIRE_FALSE(received.ok());
    CHECK(received.error().code == milk::ErrorCode::PeerClosed);
    CHECK_FALSE(handled);
}

TEST_CASE("violation: a flags value with a bit that is no flag, alone or in an array") {
    // Grant (tag 5): Access access at 0, Access[2] more at 2; Access is
    // flags u16 { read = 1, write = 2, exec = 32768 }.
    const auto grant = [](std::uint16_t access, std::uint16_t first, std::uint16_t second) {
        milk::Slot slot;
        slot.tag = 5;
        slot.length = 6;
        slot.put<std::uint16_t>(0, access);
        slot.put<std::uint16_t>(2, first);
        slot.put<std::uint16_t>(4, second);
        return slot;
    };
    // Any OR of the flags is fine, none included.
    {
        OpenServer peer = open_server();
        REQUIRE(peer.raw.send(grant(1 | 2 | 32768, 0, 2)).ok());
        bool handled = false;
        CHECK(receive_on(peer, handled).ok());
        CHECK(handled);
    }
    check_refused(refuse_on_server(grant(4, 0, 0)), milk::ErrorCode::ProtocolViolation,
                  "Shapes: enum Access out of range in Grant.access", 4);
    check_refused(refuse_on_server(grant(1, 0, 1 | 16384)), milk::ErrorCode::ProtocolViolation,
                  "Shapes: enum Access out of range in Grant.more[]", 1 | 16384);
}
