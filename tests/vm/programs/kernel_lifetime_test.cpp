// Hostile lifetimes of kernel component channels: munmap while the kernel
// is busy, a process killed mid-message, a receive blocked in poll() when
// the kernel closes the channel or the fd is closed under it, and a thousand
// channels opened and abandoned. None may oops, warn or leak (the module's
// allocation count is checked when it unloads, after this program).
#include "pingpong.kstub.h"
#include "raw_channel.hpp"

#include <milk/kernel.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

using milk::Slot;
using milk::WireBytes;
using milk::vm::RawChannel;

constexpr const char* pingpong = "examples.pingpong.PingPong";

Slot ping(std::uint32_t seq) {
    examples_pingpong_PingPong encoded{};
    encoded.tag = examples_pingpong_PingPong_tag_Ping;
    encoded.length = static_cast<milk_ku16>(examples_pingpong_PingPong_payload_size(encoded.tag));
    encoded.body.Ping.seq = seq;
    Slot slot;
    std::memcpy(static_cast<void*>(&slot), &encoded, sizeof(slot));
    return slot;
}

examples_pingpong_PingPong decode(const Slot& slot) {
    examples_pingpong_PingPong message;
    std::memcpy(&message, &slot, sizeof(message));
    return message;
}

// Ping / kick / Pong forever (until killed).
[[noreturn]] void chatter(RawChannel& channel) {
    for (std::uint32_t seq = 0;; ++seq) {
        channel.put(ping(seq));
        if (::ioctl(channel.fd, MILK_IOC_KICK, 0) < 0) ::_exit(3);
        Slot reply;
        if (!channel.take(reply)) ::_exit(4);
        const auto pong = decode(reply);
        channel.give_back({pong.body.Pong.payload.offset, pong.body.Pong.payload.length});
    }
}

void munmap_while_busy() {
    // A full ring of Pings waits; one thread kicks while another unmaps the
    // region. The kernel works on its own mapping of the pages, so the kicks
    // go on regardless, and a new mapping shows every reply in order.
    constexpr std::uint32_t capacity = 64;
    RawChannel channel = milk::vm::open_raw(pingpong, capacity);
    for (std::uint32_t seq = 0; seq < capacity; ++seq) channel.put(ping(seq));
    std::atomic<bool> go{false};
    std::atomic<long> taken{0};
    std::thread kicker([&] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 200; ++i) {
            const long result = ::ioctl(channel.fd, MILK_IOC_KICK, 0);
            if (result < 0) std::_Exit(5);
            taken += result;
        }
    });
    go = true;
    MILK_VM_CHECK(::munmap(channel.base, channel.info.region_bytes) == 0);
    kicker.join();
    MILK_VM_CHECK(taken.load() == capacity);
    void* again = ::mmap(nullptr, channel.info.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, channel.fd, 0);
    MILK_VM_CHECK(again != MAP_FAILED);
    channel.base = static_cast<std::byte*>(again);
    for (std::uint32_t seq = 0; seq < capacity; ++seq) {
        Slot reply;
        MILK_VM_CHECK(channel.take(reply));
        MILK_VM_CHECK(decode(reply).body.Pong.seq == seq);
    }
    milk::vm::close_raw(channel);
    std::printf("munmap while busy: %ld messages taken, all replies there after mapping again\n", taken.load());
}

void killed_mid_message() {
    // Children chatter with the kernel and are killed at some point of a
    // round trip; others are killed while blocked in poll() on their fd.
    for (int child = 0; child < 8; ++child) {
        int ready[2];
        MILK_VM_CHECK(::pipe(ready) == 0);
        const pid_t pid = ::fork();
        MILK_VM_CHECK(pid >= 0);
        if (pid == 0) {
            // Every fourth child's channel is served by a kernel thread.
            RawChannel channel =
                milk::vm::open_raw(pingpong, 8, 64 * 1024, true, child % 4 == 0 ? MILK_CHANNEL_POLLING_THREAD : 0);
            if (::write(ready[1], "x", 1) != 1) ::_exit(2);
            if (child % 2 == 0) chatter(channel);
            pollfd waiting{channel.fd, POLLIN, 0};
            ::poll(&waiting, 1, -1);
            ::_exit(6);
        }
        char byte = 0;
        MILK_VM_CHECK(::read(ready[0], &byte, 1) == 1);
        // Let the chatter run a while (how long does not matter).
        if (child % 2 == 0) ::usleep(20000 * static_cast<useconds_t>(child + 1));
        MILK_VM_CHECK(::kill(pid, SIGKILL) == 0);
        int status = 0;
        MILK_VM_CHECK(::waitpid(pid, &status, 0) == pid);
        MILK_VM_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ::close(ready[0]);
        ::close(ready[1]);
    }
    std::printf("killed mid-message: 4 chattering and 4 polling children killed (2 served by kernel threads)\n");
}

void blocked_receive_sees_kernel_close() {
    // A thread sleeps in poll(); the channel is then broken from another
    // thread. The kernel's close must wake it with POLLERR | POLLHUP.
    RawChannel channel = milk::vm::open_raw(pingpong, 8);
    std::atomic<short> woken{0};
    std::thread waiter([&] {
        pollfd waiting{channel.fd, POLLIN, 0};
        if (::poll(&waiting, 1, -1) != 1) std::_Exit(7);
        woken = waiting.revents;
    });
    ::usleep(50000);  // most likely asleep by now; if not, poll sees the close at once
    Slot bad = ping(1);
    bad.tag = 0;
    channel.put(bad);
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    waiter.join();
    MILK_VM_CHECK((woken.load() & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
    milk::vm::close_raw(channel);
    std::printf("a receive blocked in poll() was woken by the kernel's close\n");
}

void on_signal(int) {}

void fd_closed_during_blocked_receive() {
    // A receive of the kernel transport sleeps in poll(); the fd is closed
    // under it and the thread interrupted. The receive must end with an
    // error instead of sleeping forever, and the channel be released.
    struct sigaction action{};
    action.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR
    MILK_VM_CHECK(::sigaction(SIGUSR1, &action, nullptr) == 0);
    auto transport = milk::kernel::KernelTransport::try_open(pingpong, 1, milk::kernel::Options{});
    MILK_VM_CHECK(transport.ok());
    std::atomic<bool> done{false};
    milk::ErrorCode code{};
    std::thread receiver([&] {
        auto received = transport.value()->receive(milk::Deadline::never());
        code = received.ok() ? milk::ErrorCode{} : received.error().code;
        done = true;
    });
    ::usleep(50000);
    MILK_VM_CHECK(::close(transport.value()->fd()) == 0);
    while (!done.load()) {
        ::pthread_kill(receiver.native_handle(), SIGUSR1);
        ::usleep(10000);
    }
    receiver.join();
    MILK_VM_CHECK(code == milk::ErrorCode::PeerClosed);
    std::printf("a receive blocked in poll() ended when its fd was closed\n");
    // The transport's own close now finds the fd gone (EBADF), which is fine.
}

void thousand_abandoned() {
    // Four children open 250 channels each, map most, leave messages in
    // some, kick some, and exit without closing anything.
    for (int child = 0; child < 4; ++child) {
        const pid_t pid = ::fork();
        MILK_VM_CHECK(pid >= 0);
        if (pid == 0) {
            for (int i = 0; i < 250; ++i) {
                // One in seven is served by a kernel thread (which a kick
                // only wakes, so it returns 0).
                const bool threaded = i % 7 == 1;
                RawChannel channel = milk::vm::open_raw(i % 3 == 0 ? "examples.files.FileService" : pingpong, 2, 4096,
                                                        i % 5 != 0, threaded ? MILK_CHANNEL_POLLING_THREAD : 0);
                if (channel.base == nullptr || i % 3 == 0) continue;
                channel.put(ping(static_cast<std::uint32_t>(i)));
                if (i % 2 == 0 && ::ioctl(channel.fd, MILK_IOC_KICK, 0) != (threaded ? 0 : 1)) ::_exit(8);
            }
            ::_exit(0);
        }
        int status = 0;
        MILK_VM_CHECK(::waitpid(pid, &status, 0) == pid);
        MILK_VM_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    std::printf("1000 channels opened and abandoned\n");
}

}  // namespace

int main() {
    munmap_while_busy();
    killed_mid_message();
    blocked_receive_sees_kernel_close();
    fd_closed_during_blocked_receive();
    thousand_abandoned();
    return 0;
}
