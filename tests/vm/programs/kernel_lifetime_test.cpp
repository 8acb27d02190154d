// Hostile lifetimes of kernel component channels: munmap while the kernel
// is busy, a process killed mid-message, a receive blocked in poll() when
// the kernel closes the channel or the fd is closed under it, and a thousand
// channels opened and abandoned. None may oops, warn or leak (the module's
// allocation count is checked when it unloads, after this program).
#include "pingpong.kstub.h"
#include "raw_channel.hpp"

#include <milk/kernel.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using milk::Slot;
using milk::vm::RawChannel;

constexpr const char* pingpong = "examples.pingpong.PingPong";

Slot ping(std::uint32_t seq, milk::WireBytes payload = {}) {
    examples_pingpong_PingPong encoded{};
    encoded.tag = examples_pingpong_PingPong_tag_Ping;
    encoded.length = static_cast<milk_ku16>(examples_pingpong_PingPong_payload_size(encoded.tag));
    encoded.body.Ping.seq = seq;
    encoded.body.Ping.payload = {payload.offset, payload.length};
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
        // Inline, the reply is there when the kick returns; a kernel thread
        // may take a moment (poll() waits for it).
        Slot reply;
        while (!channel.take(reply)) {
            pollfd waiting{channel.fd, POLLIN, 0};
            if (::poll(&waiting, 1, -1) != 1 || (waiting.revents & POLLERR) != 0) ::_exit(4);
        }
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
    // One thread sleeps in poll(), another in read(); the channel is then
    // broken from a third. The kernel's close must wake both: poll with
    // POLLERR | POLLHUP, read with MILK_READ_CLOSED.
    RawChannel channel = milk::vm::open_raw(pingpong, 8);
    std::uint32_t bits = 0;
    MILK_VM_CHECK_ERRNO(::read(channel.fd, &bits, 2), EINVAL);  // fewer than 4 bytes
    std::atomic<short> woken{0};
    std::atomic<std::uint32_t> read_bits{0};
    std::thread poller([&] {
        pollfd waiting{channel.fd, POLLIN, 0};
        if (::poll(&waiting, 1, -1) != 1) std::_Exit(7);
        woken = waiting.revents;
    });
    std::thread reader([&] {
        std::uint32_t got = 0;
        if (::read(channel.fd, &got, sizeof(got)) != sizeof(got)) std::_Exit(9);
        read_bits = got;
    });
    ::usleep(50000);  // most likely asleep by now; if not, they see the close at once
    Slot bad = ping(1);
    bad.tag = 0;
    channel.put(bad);
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    poller.join();
    reader.join();
    MILK_VM_CHECK((woken.load() & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
    MILK_VM_CHECK((read_bits.load() & MILK_READ_CLOSED) != 0);
    milk::vm::close_raw(channel);
    std::printf("a poll() and a read() blocked on the channel were woken by the kernel's close\n");
}

void read_as_doorbell() {
    // A kernel thread serves the channel; the client sleeps in read() until
    // the reply is there, 100 times. O_NONBLOCK reads of an idle channel
    // give EAGAIN.
    RawChannel channel = milk::vm::open_raw(pingpong, 8, 64 * 1024, true, MILK_CHANNEL_POLLING_THREAD);
    const int nonblocking = ::open("/dev/milk", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    MILK_VM_CHECK(nonblocking >= 0);
    std::uint32_t bits = 0;
    // A file without a component channel has nothing to wait for: closed.
    MILK_VM_CHECK(::read(nonblocking, &bits, sizeof(bits)) == sizeof(bits) && bits == MILK_READ_CLOSED);
    ::close(nonblocking);
    MILK_VM_CHECK(::fcntl(channel.fd, F_SETFL, O_NONBLOCK) == 0);
    MILK_VM_CHECK_ERRNO(::read(channel.fd, &bits, sizeof(bits)), EAGAIN);
    MILK_VM_CHECK(::fcntl(channel.fd, F_SETFL, 0) == 0);
    for (std::uint32_t seq = 0; seq < 100; ++seq) {
        channel.put(ping(seq));
        // The doorbell protocol: swap the word to Awake, kick only if the
        // thread said it sleeps.
        auto* control = reinterpret_cast<milk::ChannelControl*>(channel.base + channel.layout.control_offset);
        if (std::atomic_ref<std::uint32_t>(control->data_bell[0].state).exchange(0) == 1)
            MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 0);
        Slot reply;
        while (!channel.take(reply)) {
            MILK_VM_CHECK(::read(channel.fd, &bits, sizeof(bits)) == sizeof(bits));
            MILK_VM_CHECK((bits & MILK_READ_CLOSED) == 0);
        }
        const auto pong = decode(reply);
        MILK_VM_CHECK(pong.tag == examples_pingpong_PingPong_tag_Pong && pong.body.Pong.seq == seq);
        channel.give_back({pong.body.Pong.payload.offset, pong.body.Pong.payload.length});
    }
    milk::vm::close_raw(channel);
    std::printf("read() as the doorbell of a kernel thread: 100 round trips\n");
}

void on_signal(int) {}

void fd_closed_during_blocked_receive() {
    // A receive of the kernel transport sleeps in poll(); the fd is closed
    // under it and the thread interrupted. The receive must end with an
    // error instead of sleeping forever, and the channel be released.
    struct sigaction action{};
    action.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR
    MILK_VM_CHECK(::sigaction(SIGUSR1, &action, nullptr) == 0);
    auto transport = milk::kernel::KernelTransport::try_open("echo", pingpong, milk::vm::served_version("echo"), milk::kernel::Options{});
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

void unread_replies() {
    // The kernel takes a message only when its reply has room. A client
    // that sends without reading fills both rings; its next send must fail
    // with WouldBlock instead of waiting for itself, and work again once
    // the replies are read.
    milk::kernel::Options options;
    options.ring_capacity = 8;
    auto transport = milk::kernel::KernelTransport::try_open("echo", pingpong, milk::vm::served_version("echo"), options);
    MILK_VM_CHECK(transport.ok());
    milk::kernel::KernelTransport& channel = *transport.value();
    std::uint32_t seq = 0;
    // Each Ping carries a buffer of ours; the echo hands it back in its Pong.
    auto with_payload = [&](std::uint32_t number) {
        auto buffer = channel.allocate(8);
        MILK_VM_CHECK(buffer.ok());
        auto wire = channel.export_buffer(std::move(buffer).value());
        MILK_VM_CHECK(wire.ok());
        return ping(number, wire.value());
    };
    for (int i = 0; i < 16; ++i) MILK_VM_CHECK(channel.send(with_payload(seq++)).ok());  // 8 taken, 8 waiting
    auto refused = channel.send(ping(seq));
    MILK_VM_CHECK(!refused.ok() && refused.error().code == milk::ErrorCode::WouldBlock);
    for (std::uint32_t expected = 0; expected < 16; ++expected) {
        auto reply = channel.receive(milk::Deadline::never());
        MILK_VM_CHECK(reply.ok());
        const auto pong = decode(reply.value());
        MILK_VM_CHECK(pong.body.Pong.seq == expected);
        MILK_VM_CHECK(channel.import_buffer({pong.body.Pong.payload.offset, pong.body.Pong.payload.length}).ok());
    }
    MILK_VM_CHECK(channel.send(with_payload(seq)).ok());
    auto last = channel.receive(milk::Deadline::never());
    MILK_VM_CHECK(last.ok() && decode(last.value()).body.Pong.seq == seq);
    std::printf("a client that does not read its replies gets WouldBlock, then goes on\n");
}

void serving_threads_capped() {
    // Each threaded channel is a kernel thread: the module serves at most
    // 64 at once and refuses more with EAGAIN; closing one frees a place.
    std::vector<RawChannel> channels;
    for (int i = 0; i < 64; ++i)
        channels.push_back(milk::vm::open_raw(pingpong, 2, 4096, false, MILK_CHANNEL_POLLING_THREAD));
    const int fd = milk::vm::open_device();
    milk_channel_open request{};
    std::strncpy(request.component, "echo", sizeof(request.component) - 1);
    std::strncpy(request.contract, pingpong, sizeof(request.contract) - 1);
    request.version = milk::vm::served_version("echo");
    request.ring_capacity = 2;
    request.pool_bytes = 4096;
    request.flags = MILK_CHANNEL_POLLING_THREAD;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EAGAIN);
    // The refused channel is gone again: the fd has none.
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_KICK, 0), ENODEV);
    milk::vm::close_raw(channels.back());
    channels.pop_back();
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request) == 0);
    MILK_VM_CHECK(::close(fd) == 0);
    for (RawChannel& channel : channels) milk::vm::close_raw(channel);
    std::printf("serving threads capped at 64 (EAGAIN), a closed one frees its place\n");
}

}  // namespace

int main() {
    munmap_while_busy();
    killed_mid_message();
    blocked_receive_sees_kernel_close();
    read_as_doorbell();
    fd_closed_during_blocked_receive();
    thousand_abandoned();
    serving_threads_capped();
    unread_replies();
    return 0;
}
