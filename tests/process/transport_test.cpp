// The process transport between two real processes: handing a channel over
// (fork inheritance, a Unix socket), messages and buffers both ways, closing,
// and a peer that dies without closing while the other end is blocked.
#include "peer_process.hpp"
#include "raw_region.hpp"

#include <milk/process.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace {

using milk::ChannelEnd;
using milk::Deadline;
using milk::ErrorCode;
using milk::Slot;
using milk::WireBytes;
using milk::process::AttachOptions;
using milk::process::Options;
using milk::process::WaitMode;
using milk::test::ChildProcess;
using milk::test::RawRegion;
using namespace std::chrono_literals;

constexpr const char* peer_gone_text = "the peer process is gone: it exited or was killed without closing";

Slot numbered(std::uint64_t number) {
    Slot slot;
    slot.tag = 1;
    slot.length = sizeof number;
    slot.put(0, number);
    return slot;
}

Slot handle_slot(WireBytes wire) {
    Slot slot;
    slot.tag = 2;
    slot.length = sizeof wire;
    slot.put(0, wire);
    return slot;
}

struct SocketPair {
    int fds[2] = {-1, -1};
    SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0); }
    SocketPair(const SocketPair&) = delete;
    SocketPair& operator=(const SocketPair&) = delete;
    ~SocketPair() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
    void close(int which) {
        ::close(fds[which]);
        fds[which] = -1;
    }
};

// The echo peer: sends back every number + 1 until the channel closes, then
// exits 0 if it closed normally.
int echo(ChannelEnd end) {
    for (;;) {
        auto slot = end.receive(Deadline::never());
        if (!slot.ok()) return slot.error().code == ErrorCode::PeerClosed ? 0 : 20 + static_cast<int>(slot.error().code);
        if (!end.send(numbered(slot.value().get<std::uint64_t>(0) + 1)).ok()) return 30;
    }
}

// Sends `count` numbers and checks every answer; then closes.
void check_echo(ChannelEnd& end, std::uint64_t count) {
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        REQUIRE(end.send(numbered(i)).ok());
        auto answer = end.receive(Deadline::never());
        REQUIRE(answer.ok());
        if (answer.value().get<std::uint64_t>(0) != i + 1) ++wrong;
    }
    CHECK(wrong == 0);
    end.close();
}

}  // namespace

TEST_CASE("process: round trips with a forked child that inherited the memfd") {
    Options options;
    SUBCASE("spin, then sleep") {}
    SUBCASE("sleep at once, two-slot ring") {
        options.ring_capacity = 2;
        options.spin_budget = 0ns;
    }
    SUBCASE("polling") { options.wait_mode = WaitMode::Poll; }
    auto pending = milk::process::create_channel(options).value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        auto end = milk::process::attach_inherited(fd, parent);
        if (!end.ok()) return 10 + static_cast<int>(end.error().code);
        return echo(std::move(end).value());
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    check_echo(end, 20'000);
    CHECK(child.wait() == 0);
}

TEST_CASE("process: a channel handed over a Unix socket carries messages and buffers both ways") {
    SocketPair sockets;
    auto child = ChildProcess::start([&sockets] {
        sockets.close(0);
        auto received = milk::process::receive_channel(sockets.fds[1], Deadline::after(30s));
        if (!received.ok()) return 10 + static_cast<int>(received.error().code);
        ChannelEnd end = std::move(received).value();
        // A buffer of the child's pool, filled with a pattern.
        auto buffer = end.allocate(3000);
        if (!buffer.ok()) return 11;
        for (std::size_t i = 0; i < buffer.value().size(); ++i) buffer.value().data()[i] = std::byte(i * 7);
        auto wire = end.export_buffer(std::move(buffer).value());
        if (!wire.ok() || !end.send(handle_slot(wire.value())).ok()) return 12;
        // The parent's buffer: read it, write the answer into it, hand it back.
        auto theirs = end.receive(Deadline::never());
        if (!theirs.ok()) return 13;
        auto imported = end.import_buffer(theirs.value().get<WireBytes>(0));
        if (!imported.ok()) return 14;
        if (std::memcmp(imported.value().data(), "from the parent", 15) != 0) return 15;
        std::memcpy(imported.value().data(), "and back again!", 15);
        auto back = end.export_buffer(std::move(imported).value());
        if (!back.ok() || !end.send(handle_slot(back.value())).ok()) return 16;
        return echo(std::move(end));
    });
    sockets.close(1);

    auto pending = milk::process::create_channel().value();
    auto heap = pending.heap();
    ChannelEnd end = milk::process::send_channel(sockets.fds[0], std::move(pending), Deadline::after(30s)).value();

    auto theirs = end.receive(Deadline::never());
    REQUIRE(theirs.ok());
    auto buffer = end.import_buffer(theirs.value().get<WireBytes>(0));
    REQUIRE(buffer.ok());
    REQUIRE(buffer.value().size() == 3000);
    bool pattern = true;
    for (std::size_t i = 0; i < 3000; ++i) pattern = pattern && buffer.value().data()[i] == std::byte(i * 7);
    CHECK(pattern);
    CHECK(heap->usage().regions_held_from_peer == 1);

    auto ours = end.allocate(100).value();
    std::memcpy(ours.data(), "from the parent", 15);
    REQUIRE(end.send(handle_slot(end.export_buffer(std::move(ours)).value())).ok());
    CHECK(heap->usage().lent_blocks == 1);
    auto returned = end.receive(Deadline::never());
    REQUIRE(returned.ok());
    auto back = end.import_buffer(returned.value().get<WireBytes>(0));
    REQUIRE(back.ok());
    CHECK(std::memcmp(back.value().data(), "and back again!", 15) == 0);
    CHECK(heap->usage().lent_blocks == 0);
    CHECK(heap->usage().held_blocks == 1);

    check_echo(end, 1000);
    CHECK(child.wait() == 0);
}

TEST_CASE("process: the peer closing normally is PeerClosed, after what it sent") {
    auto pending = milk::process::create_channel().value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        auto end = milk::process::attach_inherited(fd, parent).value();
        for (std::uint64_t i = 0; i < 5; ++i)
            if (!end.send(numbered(i)).ok()) return 1;
        end.close();
        return 0;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    CHECK(child.wait() == 0);
    for (std::uint64_t i = 0; i < 5; ++i) {
        auto slot = end.receive(Deadline::never());
        REQUIRE(slot.ok());
        CHECK(slot.value().get<std::uint64_t>(0) == i);
    }
    auto after = end.receive(Deadline::never());
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::PeerClosed);
    CHECK(std::string(after.error().what) == "the peer closed the channel");
}

TEST_CASE("process: a peer that exits without closing is PeerClosed, after what it sent") {
    auto pending = milk::process::create_channel().value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        auto end = milk::process::attach_inherited(fd, parent).value();
        for (std::uint64_t i = 0; i < 5; ++i)
            if (!end.send(numbered(i)).ok()) return 1;
        // No destructor runs, so the closed flag stays 0.
        std::_Exit(0);
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    for (std::uint64_t i = 0; i < 5; ++i) {
        auto slot = end.receive(Deadline::never());
        REQUIRE(slot.ok());
        CHECK(slot.value().get<std::uint64_t>(0) == i);
    }
    auto after = end.receive(Deadline::never());
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::PeerClosed);
    CHECK(std::string(after.error().what) == peer_gone_text);
    CHECK(child.wait() == 0);
}

TEST_CASE("process: a receive blocked in the futex returns PeerClosed when the peer is killed") {
    Options options;
    SUBCASE("spin, then sleep") {}
    SUBCASE("sleep at once") { options.spin_budget = 0ns; }
    auto pending = milk::process::create_channel(options).value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        // The observer maps first: once the child attached, the memfd is
        // sealed against new writable mappings.
        const RawRegion region(fd, RawRegion::Seal::Never);
        auto end = milk::process::attach_inherited(fd, parent).value();
        if (!end.send(numbered(1)).ok()) return 1;
        // The parent took the message and went to sleep waiting for the next.
        if (!milk::test::eventually([&] { return RawRegion::sleeping(region.control().data_bell[1]); }))
            return milk::test::child_gave_up;
        ::raise(SIGKILL);
        return 2;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    REQUIRE(end.receive(Deadline::never()).ok());
    auto after = end.receive(Deadline::never());
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::PeerClosed);
    CHECK(std::string(after.error().what) == peer_gone_text);
    CHECK(child.wait() == 128 + SIGKILL);
}

namespace {

// A receive blocked with a liveness interval far longer than any test: it
// can only learn of the peer's death from the watcher thread, which rings
// its doorbell. Returns 0 when it got PeerClosed well before its deadline.
int receive_learns_of_killed_peer_at_once() {
    Options options;
    options.liveness_interval = std::chrono::hours(1);
    auto pending = milk::process::create_channel(options).value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    AttachOptions attach;
    attach.liveness_interval = std::chrono::hours(1);
    auto child = ChildProcess::start([fd, parent, attach] {
        const RawRegion region(fd, RawRegion::Seal::Never);
        auto end = milk::process::attach_inherited(fd, parent, attach).value();
        if (!end.send(numbered(1)).ok()) return 1;
        if (!milk::test::eventually([&] { return RawRegion::sleeping(region.control().data_bell[1]); }))
            return milk::test::child_gave_up;
        ::raise(SIGKILL);
        return 2;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    if (!end.receive(Deadline::never()).ok()) return 10;
    const auto started = std::chrono::steady_clock::now();
    auto after = end.receive(Deadline::after(60s));
    const auto waited = std::chrono::steady_clock::now() - started;
    if (child.wait() != 128 + SIGKILL) return 11;
    if (after.ok() || after.error().code != ErrorCode::PeerClosed) return 12;
    if (std::string(after.error().what) != peer_gone_text) return 13;
    // The deadline is 60 s and the interval an hour: only the watcher's ring
    // ends the wait this early, however slow the machine.
    if (waited > 30s) return 14;
    return 0;
}

}  // namespace

TEST_CASE("process: a blocked receive learns of a killed peer from the watcher thread, with no timer of its own") {
    CHECK(receive_learns_of_killed_peer_at_once() == 0);
}

#if defined(__SANITIZE_THREAD__)
#define MILK_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MILK_TEST_UNDER_TSAN 1
#endif
#endif

// A child under ThreadSanitizer starts no thread after a multi-threaded
// fork; it falls back to the liveness interval (an hour here), so the test
// is for the other builds.
#ifndef MILK_TEST_UNDER_TSAN
TEST_CASE("process: a process forked after the watcher started watches its own peers") {
    // This process's watcher starts here (ctest runs each case alone).
    REQUIRE(receive_learns_of_killed_peer_at_once() == 0);
    auto child = ChildProcess::start([] { return receive_learns_of_killed_peer_at_once(); });
    CHECK(child.wait() == 0);
}
#endif

TEST_CASE("process: a send blocked on a full ring returns PeerClosed when the peer is killed") {
    auto pending = milk::process::create_channel({.ring_capacity = 4}).value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        // The observer maps first: once the child attached, the memfd is
        // sealed against new writable mappings.
        const RawRegion region(fd, RawRegion::Seal::Never);
        auto end = milk::process::attach_inherited(fd, parent).value();
        // Never receives: the parent fills ring 0 and sleeps for room.
        if (!milk::test::eventually([&] { return RawRegion::sleeping(region.control().space_bell[0]); }))
            return milk::test::child_gave_up;
        ::raise(SIGKILL);
        return 2;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    milk::Result<void> sent;
    std::uint64_t count = 0;
    while ((sent = end.send(numbered(count))).ok()) ++count;
    CHECK(count == 4);
    CHECK(sent.error().code == ErrorCode::PeerClosed);
    CHECK(std::string(sent.error().what) == peer_gone_text);
    CHECK(child.wait() == 128 + SIGKILL);
}

TEST_CASE("process: a send's deadline: wait_for_room times out on a peer that stops reading, and sees it die") {
    auto pending = milk::process::create_channel({.ring_capacity = 4}).value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    int go[2];
    REQUIRE(::pipe(go) == 0);
    auto child = ChildProcess::start([fd, parent, &go] {
        auto end = milk::process::attach_inherited(fd, parent).value();
        // Reads nothing until told, then one message, then dies.
        char byte = 0;
        if (::read(go[0], &byte, 1) != 1) return 1;
        if (!end.receive(Deadline::never()).ok()) return 2;
        if (::read(go[0], &byte, 1) != 1) return 3;
        ::raise(SIGKILL);
        return 4;
    });
    ::close(go[0]);
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    for (std::uint64_t i = 0; i < 4; ++i) {
        REQUIRE(end.wait_for_room(1, Deadline::now()).ok());
        REQUIRE(end.send(numbered(i)).ok());
    }
    // Full, and the peer reads nothing: the wait ends at its deadline, and
    // a poll says WouldBlock.
    const auto started = std::chrono::steady_clock::now();
    auto full = end.wait_for_room(1, Deadline::after(20ms));
    REQUIRE_FALSE(full.ok());
    CHECK(full.error().code == ErrorCode::TimedOut);
    CHECK(std::chrono::steady_clock::now() - started >= 20ms);
    CHECK(end.wait_for_room(1, Deadline::now()).error().code == ErrorCode::WouldBlock);
    CHECK(end.wait_for_room(5, Deadline::now()).error().code == ErrorCode::InvalidArgument);
    // The peer takes one: room again.
    REQUIRE(::write(go[1], "x", 1) == 1);
    REQUIRE(end.wait_for_room(1, Deadline::after(30s)).ok());
    REQUIRE(end.send(numbered(4)).ok());
    // Full again; the peer dies while we wait (without a close): PeerClosed
    // well before the deadline.
    REQUIRE(::write(go[1], "x", 1) == 1);
    auto gone = end.wait_for_room(1, Deadline::after(30s));
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error().code == ErrorCode::PeerClosed);
    ::close(go[1]);
    CHECK(child.wait() == 128 + SIGKILL);
}

TEST_CASE("process: a polling receive returns PeerClosed when the peer is killed") {
    auto pending = milk::process::create_channel({.wait_mode = WaitMode::Poll}).value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        auto end = milk::process::attach_inherited(fd, parent).value();
        if (!end.send(numbered(1)).ok()) return 1;
        ::raise(SIGKILL);
        return 2;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    REQUIRE(end.receive(Deadline::never()).ok());
    auto after = end.receive(Deadline::never());
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::PeerClosed);
    CHECK(child.wait() == 128 + SIGKILL);
}

TEST_CASE("process: a caller that only polls (Deadline::now) learns that the peer was killed") {
    auto pending = milk::process::create_channel().value();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd] {
        const RawRegion region(fd);
        ::raise(SIGKILL);
        return 2;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    CHECK(child.wait() == 128 + SIGKILL);
    milk::Result<Slot> polled = end.receive(Deadline::now());
    while (!polled.ok() && polled.error().code == ErrorCode::WouldBlock) polled = end.receive(Deadline::now());
    REQUIRE_FALSE(polled.ok());
    CHECK(polled.error().code == ErrorCode::PeerClosed);
}

TEST_CASE("process: a deadline with a live, silent peer is TimedOut") {
    auto pending = milk::process::create_channel().value();
    const pid_t parent = ::getpid();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd, parent] {
        auto end = milk::process::attach_inherited(fd, parent).value();
        // Waits for the parent's close, saying nothing.
        auto slot = end.receive(Deadline::never());
        return !slot.ok() && slot.error().code == ErrorCode::PeerClosed ? 0 : 1;
    });
    ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
    auto nothing = end.receive(Deadline::after(10ms));
    REQUIRE_FALSE(nothing.ok());
    CHECK(nothing.error().code == ErrorCode::TimedOut);
    auto poll = end.receive(Deadline::now());
    REQUIRE_FALSE(poll.ok());
    CHECK(poll.error().code == ErrorCode::WouldBlock);
    end.close();
    CHECK(child.wait() == 0);
}

TEST_CASE("process: a pending channel dropped unbound is a closed channel for the child") {
    const pid_t parent = ::getpid();
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    std::optional<ChildProcess> child;
    {
        auto pending = milk::process::create_channel().value();
        const int fd = pending.fd();
        child.emplace(ChildProcess::start([fd, parent, &ready] {
            auto end = milk::process::attach_inherited(fd, parent).value();
            char go = 0;
            if (::read(ready[0], &go, 1) != 1) return 1;
            auto slot = end.receive(Deadline::never());
            return !slot.ok() && slot.error().code == ErrorCode::PeerClosed ? 0 : 2;
        }));
    }
    REQUIRE(::write(ready[1], "x", 1) == 1);
    CHECK(child->wait() == 0);
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST_CASE("process: binding to a child that already exited reads as PeerClosed") {
    auto pending = milk::process::create_channel().value();
    auto child = ChildProcess::start([] { return 0; });
    // Wait until it is a zombie: its pid stays taken (nobody reaped it), so
    // the pidfd opens, and already says it exited.
    const pid_t pid = child.pid();
    REQUIRE(milk::test::eventually([pid] {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    }));
    ChannelEnd end = milk::process::bind_child(std::move(pending), pid).value();
    auto slot = end.receive(Deadline::never());
    REQUIRE_FALSE(slot.ok());
    CHECK(slot.error().code == ErrorCode::PeerClosed);
    CHECK(child.wait() == 0);
}

TEST_CASE("process: attach_inherited checks that the creator is its parent") {
    auto pending = milk::process::create_channel().value();
    const int fd = pending.fd();
    auto child = ChildProcess::start([fd] {
        // Its own pid is a live process but not its parent.
        auto end = milk::process::attach_inherited(fd, ::getpid());
        if (end.ok()) return 1;
        if (end.error().code != ErrorCode::PeerClosed) return 2;
        return std::string(end.error().what) == "the creator of the channel is not (or no longer) our parent" ? 0 : 3;
    });
    CHECK(child.wait() == 0);
}

TEST_CASE("process: options out of range are InvalidArgument") {
    CHECK(milk::process::create_channel({.ring_capacity = 3}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::process::create_channel({.heap_bytes_per_side = 100}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::process::create_channel({.spin_budget = -1ns}).error().code == ErrorCode::InvalidArgument);
    CHECK(milk::process::create_channel({.liveness_interval = 0ns}).error().code == ErrorCode::InvalidArgument);
    auto pending = milk::process::create_channel().value();
    CHECK(milk::process::bind_child(std::move(pending), 0).error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("process: the creator's memfd is sealed against resizing") {
    auto pending = milk::process::create_channel().value();
    CHECK(::ftruncate(pending.fd(), 4096) != 0);
    CHECK(::ftruncate(pending.fd(), 1 << 30) != 0);
}

namespace {

// What a peer that kept the memfd could do to the region: punch a hole in it
// (zeroing every buffer in it, the other side's included), or map it
// writable once more. 0 when everything was refused (EPERM).
int attacks_on(int memfd) {
    struct stat status{};
    if (::fstat(memfd, &status) != 0) return 1;
    if (::fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, status.st_size) == 0 || errno != EPERM)
        return 2;
    void* again = ::mmap(nullptr, static_cast<std::size_t>(status.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (again != MAP_FAILED) {
        // Through a new mapping, MADV_REMOVE would punch the same hole.
        ::munmap(again, static_cast<std::size_t>(status.st_size));
        return 3;
    }
    return errno == EPERM ? 0 : 4;
}

}  // namespace

TEST_CASE("process: once the peer attached, nobody can punch a hole in the channel or map it writable again") {
    SUBCASE("handed over a Unix socket") {
        auto pending = milk::process::create_channel().value();
        const int kept = ::dup(pending.fd());  // what a hostile creator would keep
        REQUIRE(kept >= 0);
        SocketPair sockets;
        auto child = ChildProcess::start([&sockets] {
            sockets.close(0);
            auto received = milk::process::receive_channel(sockets.fds[1], Deadline::after(30s));
            if (!received.ok()) return 10 + static_cast<int>(received.error().code);
            return echo(std::move(received).value());
        });
        sockets.close(1);
        auto sent = milk::process::send_channel(sockets.fds[0], std::move(pending), Deadline::after(30s));
        REQUIRE(sent.ok());
        ChannelEnd end = std::move(sent).value();
        CHECK(attacks_on(kept) == 0);
        REQUIRE(end.send(numbered(41)).ok());
        auto reply = end.receive(Deadline::never());
        REQUIRE(reply.ok());
        CHECK(reply.value().get<std::uint64_t>(0) == 42);
        end = ChannelEnd{};  // closes the channel: the echo ends
        CHECK(child.wait() == 0);
        ::close(kept);
    }
    SUBCASE("inherited by a forked child") {
        auto pending = milk::process::create_channel().value();
        const int fd = pending.fd();
        const pid_t parent = ::getpid();
        auto child = ChildProcess::start([fd, parent] {
            auto attached = milk::process::attach_inherited(fd, parent);
            if (!attached.ok()) return 10 + static_cast<int>(attached.error().code);
            // The child's own descriptor is as powerless as anybody's.
            if (const int refused = attacks_on(fd); refused != 0) return 20 + refused;
            return echo(std::move(attached).value());
        });
        const int kept = ::dup(fd);
        REQUIRE(kept >= 0);
        ChannelEnd end = milk::process::bind_child(std::move(pending), child.pid()).value();
        REQUIRE(end.send(numbered(1)).ok());
        auto reply = end.receive(Deadline::never());
        REQUIRE(reply.ok());
        CHECK(reply.value().get<std::uint64_t>(0) == 2);
        CHECK(attacks_on(kept) == 0);
        end = ChannelEnd{};
        CHECK(child.wait() == 0);
        ::close(kept);
    }
}

TEST_CASE("process: send_channel ends when the peer hangs up or the deadline passes") {
    SUBCASE("hang-up") {
        SocketPair sockets;
        auto child = ChildProcess::start([&sockets] {
            sockets.close(0);
            char offer[16];
            // Reads the offer (closing the memfd that came with it) and leaves.
            return ::recv(sockets.fds[1], offer, sizeof offer, 0) == 16 ? 0 : 1;
        });
        sockets.close(1);
        auto end = milk::process::send_channel(sockets.fds[0], milk::process::create_channel().value(),
                                               Deadline::after(30s));
        REQUIRE_FALSE(end.ok());
        CHECK(end.error().code == ErrorCode::PeerClosed);
        CHECK(child.wait() == 0);
    }
    SUBCASE("deadline") {
        SocketPair sockets;
        auto end = milk::process::send_channel(sockets.fds[0], milk::process::create_channel().value(),
                                               Deadline::after(5ms));
        REQUIRE_FALSE(end.ok());
        CHECK(end.error().code == ErrorCode::TimedOut);
    }
    SUBCASE("not a socket") {
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        auto end = milk::process::send_channel(pipe_fds[1], milk::process::create_channel().value(),
                                               Deadline::after(30s));
        REQUIRE_FALSE(end.ok());
        CHECK(end.error().code == ErrorCode::InvalidArgument);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
    }
}
