// The contract-driven hostile peer (tests/hostile/contract_peer.hpp) against
// the process transport: the very driver that runs against milk.ko in the VM
// (tests/vm/programs/contract_peer_test.cpp), here against the components
// echo, files and tally served by the host's own code (ComponentType::serve,
// the generated endpoints, RegionTransport) in a process of their own.
//
// The honest side is a forked process that offers channel after channel over
// a Unix socket (create_channel + send_channel, as milkd does) and serves
// each with the component until the channel ends or fails. This process is
// the hostile client: it takes each offer by hand (recvmsg, SCM_RIGHTS),
// maps and seals the memfd (RawRegion), answers Accept with its credentials,
// and writes raw bytes.
//
// MILK_HOSTILE_MESSAGES sets the messages per contract (default 10,000).
#include "files.kstub.h"
#include "pingpong.kstub.h"
#include "tally.kstub.h"

#include "../hostile/contract_peer.hpp"
#include "peer_process.hpp"
#include "raw_handshake.hpp"
#include "raw_region.hpp"

#include <milk/channel_status.hpp>
#include <milk/host/component_type.hpp>
#include <milk/process.hpp>

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace {

using milk::ChannelSide;
using milk::ErrorCode;
using milk::Slot;
using milk::WireBytes;
using milk::test::RawRegion;

// The honest side is side First (pool 0, message ring 0 to us); we are
// Second.
constexpr std::size_t to_server = 1;
constexpr std::size_t to_client = 0;

std::uint64_t hostile_per_contract() {
    if (const char* env = std::getenv("MILK_HOSTILE_MESSAGES")) return std::strtoull(env, nullptr, 10);
    return 10'000;
}

// The honest host: offers a channel, serves it with the component, and so
// on until the client hangs up. Exit code 0 when it did.
int honest_host(int socket, const milk::host::ComponentType& component) {
    const milk::process::Options options{.ring_capacity = 4, .heap_bytes_per_side = 16 * 1024};
    for (;;) {
        auto pending = milk::process::create_channel(options);
        if (!pending.ok()) return 70;
        auto end = milk::process::send_channel(socket, std::move(pending).value(),
                                               milk::Deadline::after(std::chrono::seconds(60)));
        // The client hung up: done.
        if (!end.ok()) {
            if (end.error().code == ErrorCode::PeerClosed) return 0;
            std::fprintf(stderr, "honest host: %s (%lld)\n", end.error().what, static_cast<long long>(end.error().detail));
            return 71;
        }
        // A hostile client makes this fail: the channel closes with the
        // error, and the next one is offered.
        static_cast<void>(component.serve(milk::Settings{}, std::move(end).value()));
    }
}

// Takes an offer by hand: the memfd from SCM_RIGHTS, and Accept back with
// our credentials (the creator reads our pid from them).
int take_offer(int socket) {
    milk::process::HandshakeMessage offer{};
    iovec data{&offer, sizeof offer};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    REQUIRE(::recvmsg(socket, &header, MSG_CMSG_CLOEXEC) == static_cast<ssize_t>(sizeof offer));
    REQUIRE(offer.kind == static_cast<std::uint32_t>(milk::process::HandshakeKind::Offer));
    int fd = -1;
    for (cmsghdr* entry = CMSG_FIRSTHDR(&header); entry != nullptr; entry = CMSG_NXTHDR(&header, entry)) {
        if (entry->cmsg_level == SOL_SOCKET && entry->cmsg_type == SCM_RIGHTS)
            std::memcpy(&fd, CMSG_DATA(entry), sizeof fd);
    }
    REQUIRE(fd >= 0);
    return fd;
}

void accept_offer(int socket) {
    const milk::process::HandshakeMessage accept{milk::process::handshake_magic,
                                                 static_cast<std::uint32_t>(milk::process::HandshakeKind::Accept), 0};
    milk::test::send_raw(socket, &accept, sizeof accept, nullptr, 0);
}

// One channel, client end, in raw memory.
class ProcessLink {
public:
    explicit ProcessLink(int socket) : m_fd(take_offer(socket)), m_region(std::make_unique<RawRegion>(m_fd)) {
        accept_offer(socket);
    }
    ~ProcessLink() {
        // Whatever happened, we are done with this channel: close our end
        // (the honest side may be waiting for us) and let go of the file.
        if (!m_region->closed(ChannelSide::Second)) m_region->close_as(ChannelSide::Second, 0);
        m_region.reset();
        ::close(m_fd);
    }
    ProcessLink(const ProcessLink&) = delete;
    ProcessLink& operator=(const ProcessLink&) = delete;

    [[nodiscard]] std::uint32_t pool_bytes() const { return m_region->pool_bytes(); }
    [[nodiscard]] std::uint32_t own_pool_begin() const { return m_region->pool_bytes(); }
    [[nodiscard]] std::byte* heap() const { return m_region->heap(); }
    // serve_channel returns when the protocol ends, and the channel end
    // closes normally.
    [[nodiscard]] milk::hostile::AtEnd at_end() const { return milk::hostile::AtEnd::Closes; }
    // User space takes its return ring when it allocates, not per message.
    [[nodiscard]] bool drains_returns_first() const { return false; }
    // Our close ends the honest side's receive, whatever word we wrote
    // (peer_close_error), and its end closes as after any close of ours.
    [[nodiscard]] ErrorCode reason_after_our_close(std::uint32_t /*word*/) const { return ErrorCode::PeerClosed; }

    void put(const Slot& slot) {
        auto& header = m_region->ring_header(to_server);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (RawRegion::load(header.producer_index) - RawRegion::load(header.consumer_index) >=
               m_region->layout().ring_capacity) {
            if (m_region->closed(ChannelSide::First)) break;
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::yield();
        }
        m_region->publish(to_server, slot);
    }
    // publish() rang the honest side's doorbell already.
    bool kick() { return !m_region->closed(ChannelSide::First); }
    bool take(Slot& slot) {
        auto taken = m_region->take(to_client);
        if (!taken) return false;
        slot = *taken;
        return true;
    }
    bool wait(std::chrono::milliseconds /*timeout*/) {
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        return true;
    }
    // The honest side is done with our messages once it took them all and
    // went to sleep in its next receive: the handler returned, so the
    // message and its bytes were dropped (after the reply, for a handler
    // that replies with the message still in scope). Our publish sets the
    // doorbell awake, so "sleeping" here is news from after our last message.
    void settle() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        auto& header = m_region->ring_header(to_server);
        while (!m_region->closed(ChannelSide::First)) {
            const bool all_taken = RawRegion::load(header.consumer_index) == RawRegion::load(header.producer_index);
            if (all_taken && RawRegion::sleeping(m_region->control().data_bell[to_server])) return;
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::yield();
        }
    }
    void give_back(WireBytes handle) { m_region->push_return(side_index(ChannelSide::First), handle); }
    bool take_return(WireBytes& entry) {
        const std::size_t ours = side_index(ChannelSide::Second);
        auto& header = m_region->return_header(ours);
        const std::uint32_t published = RawRegion::load(header.producer_index);
        if (published == m_returns_taken) return false;
        entry = m_region->return_entries(ours)[m_returns_taken & (m_region->layout().return_ring_capacity - 1)];
        ++m_returns_taken;
        RawRegion::store(header.consumer_index, m_returns_taken);
        return true;
    }
    void close(std::uint32_t reason) { m_region->close_as(ChannelSide::Second, reason); }
    milk::hostile::HonestClose honest_close() {
        milk::SideStatus& theirs = m_region->control().status[side_index(ChannelSide::First)];
        if (!milk::has_closed(theirs)) return {};
        const milk::Error error = milk::peer_close_error(theirs);
        return {true, error.code, std::nullopt, error.what != nullptr ? error.what : ""};
    }

private:
    int m_fd;
    std::unique_ptr<RawRegion> m_region;
    std::uint32_t m_returns_taken = 0;
};

void drive(const milk_kcontract& contract, const char* component_name, std::uint64_t seed) {
    const milk::host::ComponentType* component =
        milk::host::find_component(milk::host::compiled_components(), component_name);
    REQUIRE(component != nullptr);
    REQUIRE(std::string(component->contract) == contract.name);
    int sockets[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
    const int on = 1;
    REQUIRE(::setsockopt(sockets[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
    auto host = milk::test::ChildProcess::start([&] {
        ::close(sockets[0]);
        return honest_host(sockets[1], *component);
    });
    ::close(sockets[1]);

    const auto began = std::chrono::steady_clock::now();
    auto open = [&] { return ProcessLink(sockets[0]); };
    milk::hostile::ContractPeer<ProcessLink, decltype(open)> peer(contract, open, seed);
    const auto failed = peer.run(hostile_per_contract());
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    if (failed) FAIL(failed->what);
    milk::hostile::print_stats(contract.name, peer.stats(), took.count());
    CHECK(peer.stats().hostile >= hostile_per_contract());
    ::close(sockets[0]);
    CHECK(host.wait() == 0);
}

}  // namespace

TEST_CASE("contract-driven hostile peer: echo (PingPong) in a process of its own") {
    drive(examples_pingpong_PingPong__kcontract, "echo", 11);
}

TEST_CASE("contract-driven hostile peer: files (FileService) in a process of its own") {
    drive(examples_files_FileService__kcontract, "files", 12);
}

TEST_CASE("contract-driven hostile peer: tally (Tally) in a process of its own") {
    drive(examples_tally_Tally__kcontract, "tally", 13);
}
