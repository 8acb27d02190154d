// The user <-> kernel round trip, measured inside the VM (a program, not a
// test: it prints, it does not judge). Every number comes from the same
// boot, so only the ratios mean anything: under TCG the times themselves
// are emulated.
//
//   getppid          the cheapest system call: the floor of any kernel entry
//   bare ioctl       MILK_IOC_KICK on a /dev/milk fd without a channel: the
//                    device's whole entry path (file mutex, dispatch), no work
//   doorbell, 1      KernelTransport: one Ping sent, kicked, its Pong taken
//                    and its buffer sent home; the component runs inline in
//                    the kick, so a round trip is one ioctl
//   doorbell, 32     the same with 32 Pings per kick, per message
//
//   polled, 1 / 32   the same with the component served by a kernel thread
//                    (Serving::PollingThread): both sides poll the rings,
//                    no system call while the thread is awake
#include "pingpong.kstub.h"
#include "raw_channel.hpp"

#include <milk/kernel.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace {

using Clock = std::chrono::steady_clock;

double ns_per(Clock::duration elapsed, std::uint64_t count) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
           static_cast<double>(count);
}

milk::Slot ping(std::uint32_t seq, milk::WireBytes payload) {
    examples_pingpong_PingPong encoded{};
    encoded.tag = examples_pingpong_PingPong_tag_Ping;
    encoded.length = static_cast<milk_ku16>(examples_pingpong_PingPong_payload_size(encoded.tag));
    encoded.body.Ping.seq = seq;
    encoded.body.Ping.payload = {payload.offset, payload.length};
    milk::Slot slot;
    std::memcpy(static_cast<void*>(&slot), &encoded, sizeof(slot));
    return slot;
}

// Round trips of `batch` Pings each; ns per message. Each Ping carries an
// 8-byte buffer of ours; the echo (the example's own server code) hands it
// back in its Pong, and it goes out again in a later Ping.
double doorbell(milk::kernel::KernelTransport& channel, std::uint32_t batch, std::uint32_t messages) {
    std::array<milk::Slot, 32> pings{};
    std::array<milk::Buffer, 32> buffers;
    for (milk::Buffer& buffer : buffers) {
        auto allocated = channel.allocate(8);
        MILK_VM_CHECK(allocated.ok());
        buffer = std::move(allocated).value();
    }
    const auto started = Clock::now();
    for (std::uint32_t sent = 0; sent < messages; sent += batch) {
        for (std::uint32_t i = 0; i < batch; ++i) {
            auto wire = channel.export_buffer(std::move(buffers[i]));
            MILK_VM_CHECK(wire.ok());
            pings[i] = ping(sent + i, wire.value());
        }
        MILK_VM_CHECK(channel.send_batch(std::span<const milk::Slot>(pings.data(), batch)).ok());
        for (std::uint32_t i = 0; i < batch; ++i) {
            auto reply = channel.receive(milk::Deadline::never());
            MILK_VM_CHECK(reply.ok());
            examples_pingpong_PingPong pong;
            std::memcpy(&pong, &reply.value(), sizeof(pong));
            MILK_VM_CHECK(pong.body.Pong.seq == sent + i);
            auto buffer = channel.import_buffer({pong.body.Pong.payload.offset, pong.body.Pong.payload.length});
            MILK_VM_CHECK(buffer.ok());
            buffers[i] = std::move(buffer).value();
        }
    }
    return ns_per(Clock::now() - started, messages);
}

// The user side's share of a doorbell round trip's buffer work: a block of
// our own pool exported and imported back (what the Ping and the echo's Pong
// do to it), without the kernel. ns per pair.
double own_block_cycle(milk::kernel::KernelTransport& channel, std::uint32_t count) {
    auto allocated = channel.allocate(8);
    MILK_VM_CHECK(allocated.ok());
    milk::Buffer buffer = std::move(allocated).value();
    const auto started = Clock::now();
    for (std::uint32_t i = 0; i < count; ++i) {
        auto wire = channel.export_buffer(std::move(buffer));
        MILK_VM_CHECK(wire.ok());
        auto back = channel.import_buffer(wire.value());
        MILK_VM_CHECK(back.ok());
        buffer = std::move(back).value();
    }
    return ns_per(Clock::now() - started, count);
}

// The same over the raw rings (raw_channel.hpp): no runtime on the user
// side, so this is the kernel's part (ioctl, validation, component, pool).
double raw_doorbell(milk::vm::RawChannel& channel, std::uint32_t batch, std::uint32_t messages) {
    const auto started = Clock::now();
    for (std::uint32_t sent = 0; sent < messages; sent += batch) {
        // 8 bytes of our own pool each; the echo hands them back in place.
        for (std::uint32_t i = 0; i < batch; ++i) channel.put(ping(sent + i, {64 * i, 8}));
        MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == static_cast<long>(batch));
        for (std::uint32_t i = 0; i < batch; ++i) {
            milk::Slot reply;
            MILK_VM_CHECK(channel.take(reply));
            examples_pingpong_PingPong pong;
            std::memcpy(&pong, &reply, sizeof(pong));
            MILK_VM_CHECK(pong.body.Pong.seq == sent + i && pong.body.Pong.payload.offset == 64 * i);
        }
    }
    return ns_per(Clock::now() - started, messages);
}

}  // namespace

int main() {
    constexpr std::uint32_t calls = 200'000;
    constexpr std::uint32_t messages = 64 * 1024;

    auto started = Clock::now();
    for (std::uint32_t i = 0; i < calls; ++i) static_cast<void>(::getppid());
    const double getppid_ns = ns_per(Clock::now() - started, calls);

    const int bare = milk::vm::open_device();
    started = Clock::now();
    for (std::uint32_t i = 0; i < calls; ++i) static_cast<void>(::ioctl(bare, MILK_IOC_KICK, 0));
    const double ioctl_ns = ns_per(Clock::now() - started, calls);
    ::close(bare);

    auto transport = milk::kernel::KernelTransport::try_open("examples.pingpong.PingPong", 1, milk::kernel::Options{});
    MILK_VM_CHECK(transport.ok());
    static_cast<void>(doorbell(*transport.value(), 32, 4096));  // warm up
    const double batch1_ns = doorbell(*transport.value(), 1, messages);
    const double batch32_ns = doorbell(*transport.value(), 32, messages);
    const double own_block_ns = own_block_cycle(*transport.value(), messages);

    auto raw = milk::vm::open_raw("examples.pingpong.PingPong", 64, 256 * 1024);
    const double raw1_ns = raw_doorbell(raw, 1, messages);
    const double raw32_ns = raw_doorbell(raw, 32, messages);
    milk::vm::close_raw(raw);

    milk::kernel::Options polled;
    polled.serving = milk::kernel::Serving::PollingThread;
    polled.spin_budget = std::chrono::milliseconds(1);
    auto threaded = milk::kernel::KernelTransport::try_open("examples.pingpong.PingPong", 1, polled);
    MILK_VM_CHECK(threaded.ok());
    static_cast<void>(doorbell(*threaded.value(), 32, 4096));  // warm up
    const double polled1_ns = doorbell(*threaded.value(), 1, messages);
    const double polled32_ns = doorbell(*threaded.value(), 32, messages);

    std::printf("getppid                      %8.0f ns\n", getppid_ns);
    std::printf("bare ioctl                   %8.0f ns\n", ioctl_ns);
    std::printf("doorbell round trip, batch 1 %8.0f ns per message\n", batch1_ns);
    std::printf("doorbell round trip, batch 32%8.0f ns per message\n", batch32_ns);
    std::printf("export+import of own block   %8.0f ns (user side only, part of each doorbell round trip)\n",
                own_block_ns);
    std::printf("raw rings, batch 1           %8.0f ns per message (no user-side runtime)\n", raw1_ns);
    std::printf("raw rings, batch 32          %8.0f ns per message\n", raw32_ns);
    std::printf("ratio raw batch 1 / bare ioctl        %.2f\n", raw1_ns / ioctl_ns);
    std::printf("ratio doorbell batch 1 / bare ioctl   %.2f  (target <= 1.1 of ioctl + wake-up; no wake-up here)\n",
                batch1_ns / ioctl_ns);
    std::printf("ratio doorbell batch 32 / bare ioctl  %.2f\n", batch32_ns / ioctl_ns);
    std::printf("ratio doorbell batch 1 / getppid      %.2f\n", batch1_ns / getppid_ns);
    std::printf("ratio doorbell batch 32 / getppid     %.2f\n", batch32_ns / getppid_ns);
    std::printf("polled round trip, batch 1   %8.0f ns per message (kernel thread polls, no system call)\n",
                polled1_ns);
    std::printf("polled round trip, batch 32  %8.0f ns per message\n", polled32_ns);
    std::printf("ratio polled batch 1 / getppid        %.2f  (target <= 1.0)\n", polled1_ns / getppid_ns);
    std::printf("ratio polled batch 32 / getppid       %.2f\n", polled32_ns / getppid_ns);
    return 0;
}
