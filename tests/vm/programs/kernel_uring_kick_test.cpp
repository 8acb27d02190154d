// milk's doorbell as an io_uring command (MILK_URING_KICK, ABI 8): a client
// on the generated endpoints whose channel to the echo component is opened
// with Kick::ByCaller sends without kicking, and rings the doorbell in the
// same io_uring submission as other I/O (a NOP standing for a policy's own).
// Checked: nothing is answered before the kick; the kick's completion says
// how many messages the kernel took; every Pong is the answer to its Ping;
// a full ring refuses the next send instead of waiting for itself; and the
// refusals (another cmd_op, a fd without a channel, a closed channel) come
// back as the CQE's result.
#include "pingpong.hpp"
#include "pingpong.kstub.h"
#include "vm_check.hpp"

#include <milk/kernel.hpp>

#include <liburing.h>
#include <poll.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

using namespace examples::pingpong;

namespace {

constexpr std::uint64_t kick_data = 1;
constexpr std::uint64_t nop_data = 2;

// The next completion of `ring`: its user_data and res.
struct Completion {
    std::uint64_t user_data = 0;
    int result = 0;
};

Completion next_completion(io_uring& ring) {
    io_uring_cqe* cqe = nullptr;
    MILK_VM_CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
    const Completion completion{cqe->user_data, cqe->res};
    io_uring_cqe_seen(&ring, cqe);
    return completion;
}

// One submission holding the kick of `fd` and a NOP; returns the kick's res.
int kick_beside_a_nop(io_uring& ring, int fd) {
    io_uring_sqe* kick = io_uring_get_sqe(&ring);
    MILK_VM_CHECK(kick != nullptr);
    milk::kernel::prepare_kick_sqe(*kick, fd, kick_data);
    io_uring_sqe* nop = io_uring_get_sqe(&ring);
    MILK_VM_CHECK(nop != nullptr);
    io_uring_prep_nop(nop);
    io_uring_sqe_set_data64(nop, nop_data);
    MILK_VM_CHECK(io_uring_submit_and_wait(&ring, 2) == 2);
    int kick_result = -1;
    bool saw_nop = false;
    for (int i = 0; i < 2; ++i) {
        const Completion completion = next_completion(ring);
        if (completion.user_data == kick_data) kick_result = completion.result;
        if (completion.user_data == nop_data) saw_nop = completion.result == 0;
    }
    MILK_VM_CHECK(saw_nop);
    return kick_result;
}

// A kick alone, with `cmd_op` (MILK_URING_KICK or another) on `fd`.
int kick_alone(io_uring& ring, int fd, std::uint32_t cmd_op) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    MILK_VM_CHECK(sqe != nullptr);
    milk::kernel::prepare_kick_sqe(*sqe, fd, kick_data);
    sqe->cmd_op = cmd_op;
    MILK_VM_CHECK(io_uring_submit_and_wait(&ring, 1) == 1);
    const Completion completion = next_completion(ring);
    MILK_VM_CHECK(completion.user_data == kick_data);
    return completion.result;
}

bool replies_waiting(int fd) {
    pollfd waiting{fd, POLLIN, 0};
    return ::poll(&waiting, 1, 0) == 1 && (waiting.revents & POLLIN) != 0;
}

// The typed client, one Ping per kick: 200 round trips.
void typed_round_trips(io_uring& ring) {
    milk::kernel::Options options;
    options.kick = milk::kernel::Kick::ByCaller;
    auto transport = milk::kernel::KernelTransport::try_open("echo", PingPong::Contract::name,
                                                             PingPong::Contract::version, options);
    MILK_VM_CHECK(transport.ok());
    const int fd = transport.value()->fd();
    auto client = PingPong::client(milk::ChannelEnd(std::move(transport).value()));
    constexpr std::uint32_t rounds = 200;
    for (std::uint32_t seq = 0; seq < rounds; ++seq) {
        auto payload = client.allocate(4);
        MILK_VM_CHECK(payload.ok());
        for (std::size_t i = 0; i < 4; ++i) payload.value().bytes()[i] = std::byte(seq + i);
        auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
        MILK_VM_CHECK(waiting.ok());
        // Published, not kicked: the component has not run.
        MILK_VM_CHECK(!replies_waiting(fd));
        MILK_VM_CHECK(kick_beside_a_nop(ring, fd) == 1);
        MILK_VM_CHECK(replies_waiting(fd));
        bool right = false;
        auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, PingPong::Client<PingPong::state::Idle>&& next) {
            // The echo hands the payload back reversed.
            const auto bytes = pong.payload.bytes();
            right = pong.seq == seq && bytes.size() == 4 && bytes[0] == std::byte(seq + 3) &&
                    bytes[3] == std::byte(seq);
            return std::move(next);
        });
        MILK_VM_CHECK(idle.ok());
        MILK_VM_CHECK(right);
        client = std::move(idle).value();
    }
    // Bye closes the channel (its last kick is the transport's own).
    MILK_VM_CHECK(std::move(client).send(PingPong::Bye{}).ok());
    std::printf("uring kick: %u typed round trips, each kicked beside a NOP in one submission\n", rounds);
}

milk::Slot ping_slot(std::uint32_t seq) {
    examples_pingpong_PingPong encoded{};
    encoded.tag = examples_pingpong_PingPong_tag_Ping;
    encoded.length = static_cast<milk_ku16>(examples_pingpong_PingPong_payload_size(encoded.tag));
    encoded.body.Ping.seq = seq;
    encoded.body.Ping.payload = {0, 0};
    milk::Slot slot;
    std::memcpy(static_cast<void*>(&slot), &encoded, sizeof(slot));
    return slot;
}

// Batches at the slot level (the typed client waits for each Pong): a full
// ring of Pings, one kick for all of them, a send beyond the ring refused.
void batches(io_uring& ring) {
    milk::kernel::Options options;
    options.kick = milk::kernel::Kick::ByCaller;
    options.ring_capacity = 32;
    auto opened = milk::kernel::KernelTransport::try_open("echo", PingPong::Contract::name,
                                                          PingPong::Contract::version, options);
    MILK_VM_CHECK(opened.ok());
    milk::kernel::KernelTransport& channel = *opened.value();
    std::uint32_t seq = 0;
    for (int round = 0; round < 4; ++round) {
        std::array<milk::Slot, 32> pings;
        for (std::uint32_t i = 0; i < pings.size(); ++i) pings[i] = ping_slot(seq + i);
        MILK_VM_CHECK(channel.send_batch(pings).ok());
        // The ring is full of messages the kernel has not taken: another
        // send (and a wait for room) is refused, and nothing was published.
        const milk::Slot extra = ping_slot(1000);
        auto refused = channel.send(extra);
        MILK_VM_CHECK(!refused.ok() && refused.error().code == milk::ErrorCode::WouldBlock);
        auto no_room = channel.wait_for_room(1, milk::Deadline::never());
        MILK_VM_CHECK(!no_room.ok() && no_room.error().code == milk::ErrorCode::WouldBlock);
        MILK_VM_CHECK(kick_beside_a_nop(ring, channel.fd()) == 32);
        for (std::uint32_t i = 0; i < pings.size(); ++i, ++seq) {
            auto reply = channel.receive(milk::Deadline::never());
            MILK_VM_CHECK(reply.ok());
            examples_pingpong_PingPong pong;
            std::memcpy(&pong, &reply.value(), sizeof(pong));
            MILK_VM_CHECK(pong.tag == examples_pingpong_PingPong_tag_Pong && pong.body.Pong.seq == seq);
        }
        // All answered: a kick now takes nothing.
        MILK_VM_CHECK(kick_alone(ring, channel.fd(), MILK_URING_KICK) == 0);
    }
    std::printf("uring kick: 4 batches of 32 taken by one kick each; a full ring refuses the next send\n");
}

// What the CQE says for what the kernel refuses.
void refusals(io_uring& ring) {
    const int bare = milk::vm::open_device();
    MILK_VM_CHECK(kick_alone(ring, bare, MILK_URING_KICK) == -ENODEV);
    MILK_VM_CHECK(kick_alone(ring, bare, 0x7f) == -ENOTTY);
    ::close(bare);

    // A channel the kernel closed for a violation: that kick says EPROTO,
    // later ones EPIPE.
    milk::kernel::Options options;
    options.kick = milk::kernel::Kick::ByCaller;
    auto opened = milk::kernel::KernelTransport::try_open("echo", PingPong::Contract::name,
                                                          PingPong::Contract::version, options);
    MILK_VM_CHECK(opened.ok());
    milk::kernel::KernelTransport& channel = *opened.value();
    milk::Slot pong_from_client = ping_slot(7);
    reinterpret_cast<examples_pingpong_PingPong*>(&pong_from_client)->tag = examples_pingpong_PingPong_tag_Pong;
    MILK_VM_CHECK(channel.send(pong_from_client).ok());
    MILK_VM_CHECK(kick_alone(ring, channel.fd(), MILK_URING_KICK) == -EPROTO);
    MILK_VM_CHECK(kick_alone(ring, channel.fd(), MILK_URING_KICK) == -EPIPE);
    auto closed = channel.receive(milk::Deadline::never());
    MILK_VM_CHECK(!closed.ok() && closed.error().code == milk::ErrorCode::ProtocolViolation);
    std::printf("uring kick: ENODEV, ENOTTY, EPROTO then EPIPE in the CQE; the receive reports the violation\n");
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    io_uring ring{};
    MILK_VM_CHECK(io_uring_queue_init(8, &ring, 0) == 0);
    typed_round_trips(ring);
    batches(ring);
    refusals(ring);
    io_uring_queue_exit(&ring);
    std::printf("uring kick: all checks passed\n");
    return 0;
}
