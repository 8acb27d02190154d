// A peer process that breaks the rules on purpose, against an honest typed
// endpoint in this process.
//
// Each test forks a hostile client that maps the channel's memfd itself and
// writes raw slots, handles and ring indices into it. It first behaves (one
// valid Put, so that the honest server holds one of its buffers and has lent
// it one of its own), then strikes once. The honest Probe server must end
// with the documented error and a `what` naming the problem, close the
// channel with that reason (the child checks the reason and reports it in
// its exit code), run no handler for the bad message, and account for every
// block of its pool: held by it, free, or lent to the peer, exactly as many
// as it lent.
#include "peer_process.hpp"
#include "probe.hpp"
#include "raw_region.hpp"

#include <milk/process.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <sys/socket.h>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <unistd.h>
#include <utility>

namespace {

namespace probe = test::process::Probe;
using milk::ChannelSide;
using milk::Deadline;
using milk::ErrorCode;
using milk::Slot;
using milk::WireBytes;
using milk::test::ChildProcess;
using milk::test::RawRegion;
using ServerReady = probe::Server<probe::state::Ready>;
using ServerWaiting = probe::Server<probe::state::Waiting>;

constexpr std::uint32_t pool_bytes = 1u << 16;
constexpr std::uint32_t ring_capacity = 8;
// The honest server's blocks: one it keeps (1000 bytes: a 1 KiB block) and
// the reply it lends with each Ack (200 bytes: a 256-byte block).
constexpr std::size_t kept_size = 1000;
constexpr std::size_t kept_block = 1024;
constexpr std::size_t reply_size = 200;
constexpr std::size_t reply_block = 256;
// The hostile client is side Second: it writes message ring 1 and its pool
// is [pool_bytes, 2 * pool_bytes) of the heap.
constexpr std::size_t to_server = 1;
constexpr std::size_t to_client = 0;

milk::process::Options channel_options() {
    return {.ring_capacity = ring_capacity, .heap_bytes_per_side = pool_bytes};
}

// A Put as the wire has it: seq at 0, priority at 4, urgent at 5, data at 8.
Slot put_slot(std::uint32_t seq, std::uint8_t priority, std::uint8_t urgent, WireBytes data) {
    Slot slot;
    slot.tag = 1;
    slot.length = 16;
    slot.put<std::uint32_t>(0, seq);
    slot.put<std::uint8_t>(4, priority);
    slot.put<std::uint8_t>(5, urgent);
    slot.put<WireBytes>(8, data);
    return slot;
}

// A Pair: first at 0, second at 8.
Slot pair_slot(WireBytes first, WireBytes second) {
    Slot slot;
    slot.tag = 2;
    slot.length = 16;
    slot.put<WireBytes>(0, first);
    slot.put<WireBytes>(8, second);
    return slot;
}

// A block of the hostile client's own pool, filled with a pattern.
WireBytes client_block(const RawRegion& region, std::uint32_t index, std::uint32_t length) {
    const WireBytes handle{region.pool_bytes() + index * 4096u, length};
    std::memset(region.heap() + handle.offset, 0x5a, length);
    return handle;
}

// What the hostile child knows when it strikes.
struct Stage {
    const RawRegion& region;
    WireBytes first_data;  // the data of its valid Put, which the server still holds
    WireBytes reply;       // the server's buffer it got with the Ack
    std::uint32_t kept_offset;  // where the server's kept buffer lies (its pool)
};

// The hostile child: one valid exchange, then `strike`, then it waits for
// the server to close and checks the reason. Exit codes: see expect_close,
// and 80+ for an exchange that went wrong before the strike.
template <typename Strike>
int hostile_client(int fd, int offset_pipe, ErrorCode expected, Strike& strike) {
    const RawRegion region(fd);
    std::uint32_t kept_offset = 0;
    if (::read(offset_pipe, &kept_offset, sizeof kept_offset) != sizeof kept_offset) return 80;

    const WireBytes first_data = client_block(region, 0, 100);
    region.publish(to_server, put_slot(1, 1, 0, first_data));
    const std::optional<Slot> ack = region.take_eventually(to_client);
    if (!ack || ack->tag != 3 || ack->get<std::uint32_t>(0) != 1) return 81;

    strike(Stage{region, first_data, ack->get<WireBytes>(4), kept_offset});
    return region.expect_close(ChannelSide::First, static_cast<std::uint32_t>(expected));
}

// The honest server's answer to one Put: an Ack with a reply buffer of its
// pool (its allocation drains the return ring). Anything else is an error.
milk::Result<ServerReady> answer(ServerReady ready) {
    return std::move(ready).receive(
        [](probe::Put&& put, ServerWaiting&& waiting) -> milk::Result<ServerReady> {
            auto reply = waiting.allocate(reply_size);
            if (!reply.ok()) return reply.error();
            return std::move(waiting).send(probe::Ack{put.seq, std::move(reply).value()});
        },
        [](probe::Pair&&, ServerWaiting&&) -> milk::Result<ServerReady> {
            return milk::Error{ErrorCode::InvalidArgument};
        },
        [](probe::Done&&) -> milk::Result<ServerReady> { return milk::Error{ErrorCode::InvalidArgument}; });
}

// How the honest side came out of it.
struct Outcome {
    milk::Error error{ErrorCode::InvalidArgument};
    bool handled = false;  // a handler ran for the bad message (it must not)
    milk::ExchangeHeapSide::Usage usage;  // right after the failure
    milk::ExchangeHeapSide::Usage usage_after_drop;  // after dropping every buffer it held
    int child_status = -1;
};

// The honest server: answers the first Put, keeping its data, then receives
// whatever comes next.
template <typename Strike>
Outcome run_attack(ErrorCode expected, Strike strike) {
    auto pending = milk::process::create_channel(channel_options()).value();
    auto heap = pending.heap();
    int offset_pipe[2];
    REQUIRE(::pipe(offset_pipe) == 0);
    const int fd = pending.fd();
    auto child = ChildProcess::start([&] { return hostile_client(fd, offset_pipe[0], expected, strike); });
    ::close(offset_pipe[0]);

    ServerReady server = probe::server(milk::process::bind_child(std::move(pending), child.pid()).value());
    milk::Buffer kept = server.allocate(kept_size).value();
    const std::uint32_t kept_offset = kept.heap_offset();
    REQUIRE(::write(offset_pipe[1], &kept_offset, sizeof kept_offset) == sizeof kept_offset);
    ::close(offset_pipe[1]);

    milk::Buffer first_data;
    auto answered = std::move(server).receive(
        [&](probe::Put&& put, ServerWaiting&& waiting) -> milk::Result<ServerReady> {
            first_data = std::move(put.data);
            auto reply = waiting.allocate(reply_size);
            if (!reply.ok()) return reply.error();
            return std::move(waiting).send(probe::Ack{put.seq, std::move(reply).value()});
        },
        [](probe::Pair&&, ServerWaiting&&) -> milk::Result<ServerReady> {
            return milk::Error{ErrorCode::InvalidArgument, "unexpected Pair"};
        },
        [](probe::Done&&) -> milk::Result<ServerReady> {
            return milk::Error{ErrorCode::InvalidArgument, "unexpected Done"};
        });
    REQUIRE(answered.ok());
    REQUIRE(first_data.valid());

    Outcome outcome;
    auto bad = std::move(answered).value().receive(
        [&](probe::Put&&, ServerWaiting&&) { outcome.handled = true; },
        [&](probe::Pair&&, ServerWaiting&&) { outcome.handled = true; },
        [&](probe::Done&&) { outcome.handled = true; });
    REQUIRE_FALSE(bad.ok());
    outcome.error = bad.error();
    outcome.usage = heap->usage();
    outcome.child_status = child.wait();

    // The kept buffer is still ours and intact.
    CHECK(kept.size() == kept_size);
    kept = milk::Buffer{};
    first_data = milk::Buffer{};
    outcome.usage_after_drop = heap->usage();
    return outcome;
}

// The checks every attack shares: the error and its text, the child saw the
// server close with that reason, no handler ran, and the server's pool is
// all accounted for.
void check_refused(const Outcome& outcome, ErrorCode code, const char* what) {
    CHECK(outcome.error.code == code);
    REQUIRE(outcome.error.what != nullptr);
    CHECK(std::string(outcome.error.what) == what);
    CHECK_FALSE(outcome.handled);
    CHECK(outcome.child_status == milk::test::child_ok);

    const auto& usage = outcome.usage;
    CHECK(usage.free_bytes + usage.held_bytes + usage.lent_bytes == pool_bytes);
    CHECK(usage.held_blocks == 1);  // the kept buffer
    CHECK(usage.held_bytes == kept_block);
    CHECK(usage.lent_blocks == 1);  // the Ack's reply, which the peer never gave back
    CHECK(usage.lent_bytes == reply_block);
    CHECK(usage.regions_held_from_peer == 1);  // the first Put's data; nothing of the bad message

    const auto& after = outcome.usage_after_drop;
    CHECK(after.held_blocks == 0);
    CHECK(after.free_bytes == pool_bytes - reply_block);
    CHECK(after.lent_bytes == reply_block);
    CHECK(after.regions_held_from_peer == 0);
}

}  // namespace

TEST_CASE("untrusted peer: a garbage tag is a ProtocolViolation") {
    const auto outcome = run_attack(ErrorCode::ProtocolViolation, [](const Stage& stage) {
        Slot slot = put_slot(2, 1, 0, client_block(stage.region, 1, 8));
        slot.tag = 0xbeef;
        stage.region.publish(to_server, slot);
    });
    check_refused(outcome, ErrorCode::ProtocolViolation, "Probe: message tag not allowed in state Ready");
    CHECK(outcome.error.detail == 0xbeef);
}

TEST_CASE("untrusted peer: a message the state does not allow is a ProtocolViolation") {
    // Ack is the server's message; a client sending it breaks the contract
    // even though the slot is a well-formed Ack.
    const auto outcome = run_attack(ErrorCode::ProtocolViolation, [](const Stage& stage) {
        Slot slot;
        slot.tag = 3;
        slot.length = 12;
        slot.put<std::uint32_t>(0, 2);
        slot.put<WireBytes>(4, client_block(stage.region, 1, 8));
        stage.region.publish(to_server, slot);
    });
    check_refused(outcome, ErrorCode::ProtocolViolation, "Probe: message tag not allowed in state Ready");
    CHECK(outcome.error.detail == 3);
}

TEST_CASE("untrusted peer: an enum value out of range is a ProtocolViolation") {
    const auto outcome = run_attack(ErrorCode::ProtocolViolation, [](const Stage& stage) {
        stage.region.publish(to_server, put_slot(2, 7, 0, client_block(stage.region, 1, 8)));
    });
    check_refused(outcome, ErrorCode::ProtocolViolation, "Probe: enum Priority out of range in Put.priority");
    CHECK(outcome.error.detail == 7);
}

TEST_CASE("untrusted peer: a bool that is neither 0 nor 1 is a ProtocolViolation") {
    const auto outcome = run_attack(ErrorCode::ProtocolViolation, [](const Stage& stage) {
        stage.region.publish(to_server, put_slot(2, 2, 2, client_block(stage.region, 1, 8)));
    });
    check_refused(outcome, ErrorCode::ProtocolViolation, "Probe: bool other than 0 or 1 in Put.urgent");
    CHECK(outcome.error.detail == 2);
}

TEST_CASE("untrusted peer: a wrong payload length is a ProtocolViolation") {
    const auto outcome = run_attack(ErrorCode::ProtocolViolation, [](const Stage& stage) {
        Slot slot = put_slot(2, 1, 0, client_block(stage.region, 1, 8));
        slot.length = 56;
        stage.region.publish(to_server, slot);
    });
    check_refused(outcome, ErrorCode::ProtocolViolation, "Probe: Put with a wrong payload length or flags");
}

TEST_CASE("untrusted peer: a buffer handle out of bounds is a BadBuffer") {
    WireBytes handle{};
    SUBCASE("past the end of the heap") { handle = {2 * pool_bytes + 64, 16}; }
    SUBCASE("starting in its pool, running past its end") { handle = {2 * pool_bytes - 8, 64}; }
    SUBCASE("offset and length that wrap around 2^32") { handle = {0xfffffff0u, 0x20u}; }
    const auto outcome = run_attack(ErrorCode::BadBuffer, [handle](const Stage& stage) {
        stage.region.publish(to_server, put_slot(2, 1, 0, handle));
    });
    check_refused(outcome, ErrorCode::BadBuffer, "buffer outside the sender's exchange-heap pool");
    CHECK(outcome.error.detail == handle.offset);
}

TEST_CASE("untrusted peer: a handle to a buffer of the server's pool it was not lent is a BadBuffer") {
    // The server's kept buffer: in the server's own pool, never sent.
    const auto outcome = run_attack(ErrorCode::BadBuffer, [](const Stage& stage) {
        stage.region.publish(to_server, put_slot(2, 1, 0, WireBytes{stage.kept_offset, 16}));
    });
    check_refused(outcome, ErrorCode::BadBuffer, "buffer in our own pool that we did not lend to the peer");
}

TEST_CASE("untrusted peer: a lent buffer handed back longer than its block is a BadBuffer") {
    const auto outcome = run_attack(ErrorCode::BadBuffer, [](const Stage& stage) {
        stage.region.publish(to_server,
                             put_slot(2, 1, 0, WireBytes{stage.reply.offset, static_cast<std::uint32_t>(4096)}));
    });
    check_refused(outcome, ErrorCode::BadBuffer, "buffer in our own pool that we did not lend to the peer");
}

TEST_CASE("untrusted peer: the same buffer sent twice is a BadBuffer") {
    SUBCASE("in a second message, while the server still holds it") {
        const auto outcome = run_attack(ErrorCode::BadBuffer, [](const Stage& stage) {
            stage.region.publish(to_server, put_slot(2, 1, 0, stage.first_data));
        });
        check_refused(outcome, ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold");
    }
    SUBCASE("overlapping it, in a second message") {
        const auto outcome = run_attack(ErrorCode::BadBuffer, [](const Stage& stage) {
            const WireBytes inside{stage.first_data.offset + 50, 10};
            stage.region.publish(to_server, put_slot(2, 1, 0, inside));
        });
        check_refused(outcome, ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold");
    }
    SUBCASE("twice in one message: the first import is given back") {
        const auto outcome = run_attack(ErrorCode::BadBuffer, [](const Stage& stage) {
            const WireBytes twice = client_block(stage.region, 2, 32);
            stage.region.publish(to_server, pair_slot(twice, twice));
        });
        check_refused(outcome, ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold");
    }
}

TEST_CASE("untrusted peer: a producer index past the ring is a CorruptRing") {
    SUBCASE("more than a ring ahead") {
        const auto outcome = run_attack(ErrorCode::CorruptRing, [](const Stage& stage) {
            milk::RingHeader& ring = stage.region.ring_header(to_server);
            RawRegion::store(ring.producer_index, RawRegion::load(ring.consumer_index) + ring_capacity + 1);
            milk::Doorbell(&stage.region.control().data_bell[to_server], milk::WaitPolicy{}).ring();
        });
        check_refused(outcome, ErrorCode::CorruptRing, "producer index outside [consumer, consumer + capacity]");
    }
    SUBCASE("behind the consumer") {
        const auto outcome = run_attack(ErrorCode::CorruptRing, [](const Stage& stage) {
            milk::RingHeader& ring = stage.region.ring_header(to_server);
            RawRegion::store(ring.producer_index, RawRegion::load(ring.consumer_index) - 1);
            milk::Doorbell(&stage.region.control().data_bell[to_server], milk::WaitPolicy{}).ring();
        });
        check_refused(outcome, ErrorCode::CorruptRing, "producer index outside [consumer, consumer + capacity]");
    }
}

TEST_CASE("untrusted peer: a close reason that is no ErrorCode reads as PeerClosed") {
    auto pending = milk::process::create_channel(channel_options()).value();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd] {
        const RawRegion region(fd);
        region.close_as(ChannelSide::Second, 200);
        return 0;
    });
    ServerReady server = probe::server(milk::process::bind_child(std::move(pending), child.pid()).value());
    bool handled = false;
    auto received = std::move(server).receive([&](probe::Put&&, ServerWaiting&&) { handled = true; },
                                              [&](probe::Pair&&, ServerWaiting&&) { handled = true; },
                                              [&](probe::Done&&) { handled = true; });
    REQUIRE_FALSE(received.ok());
    CHECK(received.error().code == ErrorCode::PeerClosed);
    CHECK(std::string(received.error().what) == "the peer closed the channel with an unknown reason");
    CHECK(received.error().detail == 200);
    CHECK_FALSE(handled);
    CHECK(child.wait() == 0);
}

TEST_CASE("untrusted peer: a close with the reason TimedOut or WouldBlock is a close, not a timeout") {
    // Such a peer used to make every later bounded receive of the honest
    // side report a timeout (or "nothing waiting") at once, forever (issue
    // 14): a caller that loops on timeouts spun at 100% CPU and never saw
    // the close. Now each receive, bounded or polling, reports the close.
    for (const ErrorCode reason : {ErrorCode::TimedOut, ErrorCode::WouldBlock}) {
        CAPTURE(milk::describe(reason));
        auto pending = milk::process::create_channel(channel_options()).value();
        const int fd = pending.fd();
        auto child = ChildProcess::start([fd, reason] {
            const RawRegion region(fd);
            region.close_as(ChannelSide::Second, static_cast<std::uint32_t>(reason));
            return 0;
        });
        milk::ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
        REQUIRE(child.wait() == 0);
        for (const Deadline deadline : {Deadline::now(), Deadline::after(std::chrono::seconds(30)), Deadline::now()}) {
            const auto started = std::chrono::steady_clock::now();
            auto received = end.receive(deadline);
            REQUIRE_FALSE(received.ok());
            CHECK(received.error().code == ErrorCode::PeerClosed);
            CHECK(received.error().detail == static_cast<std::int64_t>(reason));
            // Not a correctness bound on speed: a close must not wait out a
            // 30-second deadline.
            CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
        }
    }
}

TEST_CASE("untrusted peer: forged returns never free a block the server holds") {
    // The peer puts handles on the return ring of the server's pool: the
    // server's kept buffer, a free block, garbage, and the reply it was lent,
    // twice. Only the reply is freed, once; the rest is counted and ignored.
    auto pending = milk::process::create_channel(channel_options()).value();
    auto heap = pending.heap();
    int offset_pipe[2];
    REQUIRE(::pipe(offset_pipe) == 0);
    const int fd = pending.fd();
    auto child = ChildProcess::start([&] {
        const RawRegion region(fd);
        std::uint32_t kept_offset = 0;
        if (::read(offset_pipe[0], &kept_offset, sizeof kept_offset) != sizeof kept_offset) return 80;
        region.publish(to_server, put_slot(1, 1, 0, client_block(region, 0, 100)));
        const std::optional<Slot> ack = region.take_eventually(to_client);
        if (!ack || ack->tag != 3) return 81;
        const WireBytes reply = ack->get<WireBytes>(4);
        region.push_return(0, WireBytes{kept_offset, 16});
        region.push_return(0, WireBytes{pool_bytes / 2, 64});
        region.push_return(0, WireBytes{0xffffff00u, 1});
        region.push_return(0, reply);
        region.push_return(0, reply);
        // Then a normal Put, so the server allocates (and drains returns) again.
        region.publish(to_server, put_slot(2, 1, 0, client_block(region, 1, 100)));
        return region.take_eventually(to_client) ? 0 : 82;
    });
    ::close(offset_pipe[0]);
    ServerReady server = probe::server(milk::process::bind_child(std::move(pending), child.pid()).value());
    milk::Buffer kept = server.allocate(kept_size).value();
    std::memset(kept.data(), 0x11, kept.size());
    const std::uint32_t kept_offset = kept.heap_offset();
    REQUIRE(::write(offset_pipe[1], &kept_offset, sizeof kept_offset) == sizeof kept_offset);
    ::close(offset_pipe[1]);

    auto first = answer(std::move(server));
    REQUIRE(first.ok());
    auto second = answer(std::move(first).value());
    REQUIRE(second.ok());
    CHECK(child.wait() == 0);

    const auto usage = heap->usage();
    CHECK(usage.rejected_returns == 4);
    CHECK(usage.held_blocks == 1);  // kept, untouched by the forged return
    CHECK(usage.held_bytes == kept_block);
    CHECK(usage.lent_blocks == 1);  // the second reply; the first came back once
    CHECK(usage.free_bytes + usage.held_bytes + usage.lent_bytes == pool_bytes);
    // A block freed by a forged return would have been handed out again by now.
    bool intact = true;
    for (std::byte value : kept.bytes()) intact = intact && value == std::byte{0x11};
    CHECK(intact);
}

TEST_CASE("untrusted peer: a corrupted return ring closes the channel, as the kernel does") {
    // The peer moves the producer index of the ring it returns the
    // server's blocks on out of its window. The server used to stop draining
    // that ring silently, so every block it lent from then on stayed lent
    // until its pool ran out (issue 14). Now its next allocation (which
    // drains) fails with CorruptRing and closes the channel with that reason.
    auto pending = milk::process::create_channel(channel_options()).value();
    auto heap = pending.heap();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd] {
        const RawRegion region(fd);
        region.publish(to_server, put_slot(1, 1, 0, client_block(region, 0, 100)));
        const std::optional<Slot> ack = region.take_eventually(to_client);
        if (!ack || ack->tag != 3) return 81;
        RawRegion::store(region.return_header(0).producer_index,
                         RawRegion::load(region.return_header(0).consumer_index) + 5 * pool_bytes);
        region.publish(to_server, put_slot(2, 1, 0, client_block(region, 1, 100)));
        return region.expect_close(ChannelSide::First, static_cast<std::uint32_t>(ErrorCode::CorruptRing));
    });
    ServerReady server = probe::server(milk::process::bind_child(std::move(pending), child.pid()).value());
    auto first = answer(std::move(server));
    REQUIRE(first.ok());
    auto second = answer(std::move(first).value());
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == ErrorCode::CorruptRing);
    CHECK(child.wait() == 0);  // it saw the server close with CorruptRing
    const auto usage = heap->usage();
    CHECK(usage.free_bytes + usage.held_bytes + usage.lent_bytes == pool_bytes);
}

TEST_CASE("untrusted peer: a child that never seals the memfd is refused with its first message") {
    // Unsealed, it could punch a hole in the region (fallocate) and zero
    // every buffer the server holds; an honest attacher seals it as soon as
    // it has mapped it (docs/transports.md, "Seals").
    auto pending = milk::process::create_channel(channel_options()).value();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd] {
        const RawRegion region(fd, RawRegion::Seal::Never);
        region.publish(to_server, put_slot(1, 1, 0, client_block(region, 0, 100)));
        return region.expect_close(ChannelSide::First, static_cast<std::uint32_t>(ErrorCode::ProtocolViolation));
    });
    ServerReady server = probe::server(milk::process::bind_child(std::move(pending), child.pid()).value());
    bool handled = false;
    auto received = std::move(server).receive([&](probe::Put&&, ServerWaiting&&) { handled = true; },
                                              [&](probe::Pair&&, ServerWaiting&&) { handled = true; },
                                              [&](probe::Done&&) { handled = true; });
    REQUIRE_FALSE(received.ok());
    CHECK(received.error().code == ErrorCode::ProtocolViolation);
    CHECK(std::string(received.error().what) ==
          "the peer attached without sealing the channel against hole punching (F_SEAL_FUTURE_WRITE)");
    CHECK_FALSE(handled);
    CHECK(child.wait() == 0);
}

TEST_CASE("untrusted peer: an attacher that accepts a channel without sealing it is refused") {
    int sockets[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
    auto child = ChildProcess::start([&sockets] {
        ::close(sockets[0]);
        // Takes the offer (and the memfd with it), then answers Accept
        // without mapping or sealing anything.
        char offer[16];
        char control[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(ucred))];
        iovec data{offer, sizeof offer};
        msghdr message{};
        message.msg_iov = &data;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        if (::recvmsg(sockets[1], &message, 0) != 16) return 1;
        const milk::process::HandshakeMessage accept{milk::process::handshake_magic,
                                                     static_cast<std::uint32_t>(milk::process::HandshakeKind::Accept), 0};
        if (::send(sockets[1], &accept, sizeof accept, 0) != sizeof accept) return 2;
        char rest;
        static_cast<void>(::recv(sockets[1], &rest, 1, 0));  // until the creator hangs up
        return 0;
    });
    ::close(sockets[1]);
    auto end = milk::process::send_channel(sockets[0], milk::process::create_channel(channel_options()).value(),
                                           Deadline::after(std::chrono::seconds(30)));
    REQUIRE_FALSE(end.ok());
    CHECK(end.error().code == ErrorCode::ProtocolViolation);
    CHECK(std::string(end.error().what) ==
          "the peer attached without sealing the channel against hole punching (F_SEAL_FUTURE_WRITE)");
    ::close(sockets[0]);
    CHECK(child.wait() == 0);
}

TEST_CASE("untrusted peer: killed mid-stream, the server gets PeerClosed") {
    // The client streams valid Puts, giving back each reply, then starts
    // writing a slot, waits until the server sleeps for it, and is killed
    // (SIGKILL: it cannot set its closed flag).
    constexpr std::uint32_t puts = 50;
    auto pending = milk::process::create_channel(channel_options()).value();
    auto heap = pending.heap();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd] {
        const RawRegion region(fd);
        for (std::uint32_t seq = 1; seq <= puts; ++seq) {
            region.publish(to_server, put_slot(seq, 1, seq % 2, client_block(region, seq % 8, 100)));
            const std::optional<Slot> ack = region.take_eventually(to_client);
            if (!ack || ack->tag != 3 || ack->get<std::uint32_t>(0) != seq) return 81;
            region.push_return(0, ack->get<WireBytes>(4));
        }
        // Half a message: the slot is written, the index never published.
        Slot* next = &region.ring_slots(to_server)[RawRegion::load(region.ring_header(to_server).producer_index) &
                                                   (ring_capacity - 1)];
        next->tag = 1;
        if (!milk::test::eventually([&] { return RawRegion::sleeping(region.control().data_bell[to_server]); }))
            return milk::test::child_gave_up;
        ::raise(SIGKILL);
        return 82;
    });
    ServerReady server = probe::server(milk::process::bind_child(std::move(pending), child.pid()).value());

    std::uint32_t answered = 0;
    std::optional<milk::Error> error;
    std::optional<ServerReady> ready{std::move(server)};
    while (!error) {
        auto next = std::move(*ready).receive(
            [&](probe::Put&& put, ServerWaiting&& waiting) -> milk::Result<ServerReady> {
                auto reply = waiting.allocate(reply_size);
                if (!reply.ok()) return reply.error();
                ++answered;
                return std::move(waiting).send(probe::Ack{put.seq, std::move(reply).value()});
            },
            [](probe::Pair&&, ServerWaiting&&) -> milk::Result<ServerReady> {
                return milk::Error{ErrorCode::InvalidArgument};
            },
            [](probe::Done&&) -> milk::Result<ServerReady> { return milk::Error{ErrorCode::InvalidArgument}; });
        if (next.ok()) ready.emplace(std::move(next).value());
        else error = next.error();
    }
    CHECK(answered == puts);
    CHECK(error->code == ErrorCode::PeerClosed);
    CHECK(std::string(error->what) == "the peer process is gone: it exited or was killed without closing");
    CHECK(child.wait() == 128 + SIGKILL);

    // Every reply but the last came back and was freed by the next
    // allocation; the last was given back too, but nothing drained it.
    const auto usage = heap->usage();
    CHECK(usage.held_blocks == 0);
    CHECK(usage.lent_blocks == 1);
    CHECK(usage.lent_bytes == reply_block);
    CHECK(usage.free_bytes == pool_bytes - reply_block);
    CHECK(usage.rejected_returns == 0);
}
