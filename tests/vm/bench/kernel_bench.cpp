// The user <-> kernel round trip, measured inside the VM (a program, not a
// test: it prints, it does not judge). Every number comes from the same
// boot, so only the ratios mean anything: under TCG the times themselves
// are emulated.
//
//   getppid          the cheapest system call: the floor of any kernel entry
//   bare ioctl       MILK_IOC_KICK on a /dev/milk fd without a channel: the
//                    device's whole entry path (file mutex, dispatch), no work
//   wake-up          a futex ping-pong between two threads of this process:
//                    one round trip wakes a sleeping peer and is woken back
//                    by it, with no work. The floor of any round trip with a
//                    peer that sleeps between messages
//   doorbell, 1      KernelTransport: one Ping sent, kicked, its Pong taken
//                    and its buffer sent home. Inline: the component runs in
//                    the kick, so a round trip is one ioctl. Thread: the
//                    component runs in a kernel thread that sleeps on a wait
//                    queue between messages; the kick wakes it, and the
//                    client sleeps in poll() until the Pong wakes it
//   doorbell, 32     the same with 32 Pings per kick, per message
//
//   polled, 1 / 32   the same with the component served by a polling kernel
//                    thread (Serving::PollingThread) on the other CPU (this
//                    program pins itself to CPU 0 first): both sides poll
//                    the rings, no system call while the thread is awake
#include "pingpong.kstub.h"
#include "raw_channel.hpp"

#include <milk/kernel.hpp>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

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

// A futex ping-pong between this thread and another: `rounds` round trips,
// each waking the peer and sleeping until it wakes us back. ns per round
// trip. Each side sleeps right away (no spinning), as a doorbell peer does.
double futex_round_trip(std::uint32_t rounds) {
    alignas(64) std::uint32_t turn = 0;  // 0: the peer's turn is over, 1: the peer must answer
    auto wait_while = [&](std::uint32_t value) {
        while (std::atomic_ref<std::uint32_t>(turn).load(std::memory_order_acquire) == value)
            ::syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, value, nullptr, nullptr, 0);
    };
    auto set_and_wake = [&](std::uint32_t value) {
        std::atomic_ref<std::uint32_t>(turn).store(value, std::memory_order_release);
        ::syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    };
    std::thread peer([&] {
        for (std::uint32_t i = 0; i < rounds; ++i) {
            wait_while(0);
            set_and_wake(0);
        }
    });
    const auto started = Clock::now();
    for (std::uint32_t i = 0; i < rounds; ++i) {
        set_and_wake(1);
        wait_while(1);
    }
    const double ns = ns_per(Clock::now() - started, rounds);
    peer.join();
    return ns;
}

void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    MILK_VM_CHECK(::sched_setaffinity(0, sizeof(set), &set) == 0);
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

    static_cast<void>(futex_round_trip(1000));  // warm up: the peer thread's first wake-ups
    const double wake_ns = futex_round_trip(calls / 4);

    auto transport = milk::kernel::KernelTransport::try_open("echo", "examples.pingpong.PingPong", 1, milk::kernel::Options{});
    MILK_VM_CHECK(transport.ok());
    static_cast<void>(doorbell(*transport.value(), 32, 4096));  // warm up
    const double batch1_ns = doorbell(*transport.value(), 1, messages);
    const double batch32_ns = doorbell(*transport.value(), 32, messages);
    const double own_block_ns = own_block_cycle(*transport.value(), messages);

    auto raw = milk::vm::open_raw("examples.pingpong.PingPong", 64, 256 * 1024);
    const double raw1_ns = raw_doorbell(raw, 1, messages);
    const double raw32_ns = raw_doorbell(raw, 32, messages);
    milk::vm::close_raw(raw);

    milk::kernel::Options sleeping;
    sleeping.serving = milk::kernel::Serving::Thread;
    // A client that sleeps at once, like the thread: no spinning anywhere.
    sleeping.spin_budget = std::chrono::nanoseconds(0);
    auto threaded = milk::kernel::KernelTransport::try_open("echo", "examples.pingpong.PingPong", 1, sleeping);
    MILK_VM_CHECK(threaded.ok());
    static_cast<void>(doorbell(*threaded.value(), 32, 4096));  // warm up
    const double thread1_ns = doorbell(*threaded.value(), 1, messages / 4);
    const double thread32_ns = doorbell(*threaded.value(), 32, messages);

    // The polling thread goes on another CPU than the one that opens the
    // channel; this thread stays on its own, so the two never poll against
    // each other.
    pin_to_cpu(0);
    milk::kernel::Options polled;
    polled.serving = milk::kernel::Serving::PollingThread;
    polled.spin_budget = std::chrono::milliseconds(1);
    auto polling = milk::kernel::KernelTransport::try_open("echo", "examples.pingpong.PingPong", 1, polled);
    MILK_VM_CHECK(polling.ok());
    static_cast<void>(doorbell(*polling.value(), 32, 4096));  // warm up
    const double polled1_ns = doorbell(*polling.value(), 1, messages);
    const double polled32_ns = doorbell(*polling.value(), 32, messages);

    const double doorbell_floor_ns = ioctl_ns + wake_ns;
    std::printf("getppid                          %8.0f ns\n", getppid_ns);
    std::printf("bare ioctl                       %8.0f ns\n", ioctl_ns);
    std::printf("wake-up round trip (futex)       %8.0f ns (two threads waking each other)\n", wake_ns);
    std::printf("doorbell inline, batch 1         %8.0f ns per message (component in the kick)\n", batch1_ns);
    std::printf("doorbell inline, batch 32        %8.0f ns per message\n", batch32_ns);
    std::printf("doorbell thread, batch 1         %8.0f ns per message (component in a sleeping kernel thread)\n",
                thread1_ns);
    std::printf("doorbell thread, batch 32        %8.0f ns per message\n", thread32_ns);
    std::printf("polled, batch 1                  %8.0f ns per message (polling kernel thread on CPU 1)\n",
                polled1_ns);
    std::printf("polled, batch 32                 %8.0f ns per message\n", polled32_ns);
    std::printf("export+import of own block       %8.0f ns (user side only, part of each round trip)\n", own_block_ns);
    std::printf("raw rings, batch 1               %8.0f ns per message (inline, no user-side runtime)\n", raw1_ns);
    std::printf("raw rings, batch 32              %8.0f ns per message\n", raw32_ns);
    std::printf("ratio doorbell thread batch 1 / (bare ioctl + wake-up)   %.2f  (target <= 1.1)\n",
                thread1_ns / doorbell_floor_ns);
    std::printf("ratio doorbell inline batch 1 / (bare ioctl + wake-up)   %.2f  (no wake-up needed inline)\n",
                batch1_ns / doorbell_floor_ns);
    std::printf("ratio doorbell inline batch 1 / bare ioctl               %.2f\n", batch1_ns / ioctl_ns);
    std::printf("ratio raw rings batch 1 / bare ioctl                     %.2f\n", raw1_ns / ioctl_ns);
    std::printf("ratio polled batch 1 / getppid                           %.2f  (target <= 1.0)\n",
                polled1_ns / getppid_ns);
    std::printf("ratio polled batch 32 / getppid                          %.2f\n", polled32_ns / getppid_ns);
    return 0;
}
