// Kernel <-> user messaging, measured inside the VM (a program, not a test:
// it prints, it does not judge). Every number comes from the same boot, so
// only the ratios mean anything: under TCG the times themselves are
// emulated. docs/kernel-user-messaging.md explains every row.
//
// Each row sends a 64-byte request to milk.ko and takes its answer, through
// one mechanism, the kernel side answering as cheaply as the mechanism
// allows (milk.ko's messaging lab, kernel-stubs/include/milk_lab_uapi.h),
// and checks every answer. A sample is one batch (one message, or 32 sent
// together); its time is divided by the batch, so every row is in ns per
// message: p50 and p99 over the samples, the mean over the whole loop, and
// the rate that mean gives.
//
//   floors           getppid (the cheapest system call), a bare ioctl on
//                    /dev/milk (MILK_IOC_KICK without a channel: the device's
//                    entry path, no work), a futex wake-up round trip between
//                    two threads (the floor of any round trip with a peer
//                    that sleeps between messages)
//   ioctl echo       the message copied in and out by one ioctl
//   read/write       write() of the request, read() of the answer
//   netlink          the milk_lab generic netlink family's ECHO command
//   io_uring         NOPs, and IORING_OP_URING_CMD on /dev/milk-lab (the
//                    message's address in the command), batch 1 and 32,
//                    without and with SQPOLL
//   eventfd          requests in a shared page, an ioctl kick, a kernel
//                    thread that answers them and signals an eventfd
//   userfaultfd      a page fault resolved by a handler thread (UFFDIO_COPY)
//   milk             KernelTransport: inline (the component runs in the
//                    kick: one ioctl per batch), thread (a sleeping kernel
//                    thread, woken by the kick; the client sleeps in poll()),
//                    polled (a polling kernel thread on the other CPU, both
//                    sides polling the rings); batch 1 and 32. Each Ping
//                    carries an 8-byte buffer, handed back in the Pong.
//                    raw rings: the inline path driven without the runtime
#include "lab_client.hpp"
#include "pingpong.kstub.h"
#include "raw_channel.hpp"

#include <milk/kernel.hpp>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace lab = milk::vm::lab;

double nanoseconds(Clock::duration elapsed) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
}

// One row: ns per message over samples of one batch each.
struct Row {
    std::string name;
    std::uint32_t batch = 1;
    double p50 = 0;
    double p99 = 0;
    double mean = 0;
};

std::vector<Row> rows;

// Runs `batches` samples of `batch` messages each (`op(sample)` sends and
// takes them, checking every answer) and records the row.
template <typename Op>
const Row& measure(std::string name, std::uint32_t batch, std::uint32_t batches, Op&& op) {
    std::vector<double> per_message;
    per_message.reserve(batches);
    const auto started = Clock::now();
    for (std::uint32_t i = 0; i < batches; ++i) {
        const auto before = Clock::now();
        MILK_VM_CHECK(op(i));
        per_message.push_back(nanoseconds(Clock::now() - before) / batch);
    }
    const double total = nanoseconds(Clock::now() - started);
    std::sort(per_message.begin(), per_message.end());
    Row row{std::move(name), batch, per_message[per_message.size() / 2],
            per_message[std::min(per_message.size() - 1, per_message.size() * 99 / 100)],
            total / (static_cast<double>(batches) * batch)};
    rows.push_back(row);
    return rows.back();
}

const Row& find(const std::string& name, std::uint32_t batch) {
    for (const Row& row : rows)
        if (row.name == name && row.batch == batch) return row;
    std::fprintf(stderr, "kernel_bench: no row %s, batch %u\n", name.c_str(), batch);
    std::exit(1);
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

// How a Doorbell rings: the transport's own ioctl on send, or an io_uring
// command the caller submits (Kick::ByCaller), alone or beside a NOP that
// stands for a policy's other I/O in the same submission.
enum class Ring : std::uint8_t { Ioctl, Uring, UringBesideNop };

// milk's doorbell through KernelTransport: `batch` Pings per kick, each
// carrying an 8-byte buffer of ours that the echo (the example's own server
// code) hands back in its Pong, to go out again in a later Ping.
class Doorbell {
public:
    explicit Doorbell(milk::kernel::KernelTransport& channel, Ring ring = Ring::Ioctl)
        : m_channel(channel), m_ring_kind(ring) {
        if (m_ring_kind != Ring::Ioctl) MILK_VM_CHECK(io_uring_queue_init(8, &m_ring, 0) == 0);
        for (milk::Buffer& buffer : m_buffers) {
            auto allocated = channel.allocate(8);
            MILK_VM_CHECK(allocated.ok());
            buffer = std::move(allocated).value();
        }
    }

    bool round_trips(std::uint32_t batch) {
        for (std::uint32_t i = 0; i < batch; ++i) {
            auto wire = m_channel.export_buffer(std::move(m_buffers[i]));
            if (!wire.ok()) return false;
            m_pings[i] = ping(m_seq + i, wire.value());
        }
        if (!m_channel.send_batch(std::span<const milk::Slot>(m_pings.data(), batch)).ok()) return false;
        if (m_ring_kind != Ring::Ioctl && !uring_kick(batch)) return false;
        for (std::uint32_t i = 0; i < batch; ++i) {
            auto reply = m_channel.receive(milk::Deadline::never());
            if (!reply.ok()) return false;
            examples_pingpong_PingPong pong;
            std::memcpy(&pong, &reply.value(), sizeof(pong));
            if (pong.body.Pong.seq != m_seq + i) return false;
            auto buffer = m_channel.import_buffer({pong.body.Pong.payload.offset, pong.body.Pong.payload.length});
            if (!buffer.ok()) return false;
            m_buffers[i] = std::move(buffer).value();
        }
        m_seq += batch;
        return true;
    }

    Doorbell(const Doorbell&) = delete;
    Doorbell& operator=(const Doorbell&) = delete;
    ~Doorbell() {
        if (m_ring_kind != Ring::Ioctl) io_uring_queue_exit(&m_ring);
    }

private:
    // The kick as MILK_URING_KICK (and a NOP) in one submission; the kick's
    // completion must say that the kernel took the whole batch.
    bool uring_kick(std::uint32_t batch) {
        io_uring_sqe* kick = io_uring_get_sqe(&m_ring);
        if (kick == nullptr) return false;
        milk::kernel::prepare_kick_sqe(*kick, m_channel.fd(), 1);
        unsigned submitted = 1;
        if (m_ring_kind == Ring::UringBesideNop) {
            io_uring_sqe* nop = io_uring_get_sqe(&m_ring);
            if (nop == nullptr) return false;
            io_uring_prep_nop(nop);
            io_uring_sqe_set_data64(nop, 2);
            ++submitted;
        }
        if (io_uring_submit_and_wait(&m_ring, submitted) != static_cast<int>(submitted)) return false;
        bool right = true;
        for (unsigned i = 0; i < submitted; ++i) {
            io_uring_cqe* cqe = nullptr;
            if (io_uring_wait_cqe(&m_ring, &cqe) != 0) return false;
            const int expected = cqe->user_data == 1 ? static_cast<int>(batch) : 0;
            right = right && cqe->res == expected;
            io_uring_cqe_seen(&m_ring, cqe);
        }
        return right;
    }

    milk::kernel::KernelTransport& m_channel;
    Ring m_ring_kind;
    io_uring m_ring{};
    std::array<milk::Slot, 32> m_pings{};
    std::array<milk::Buffer, 32> m_buffers;
    std::uint32_t m_seq = 0;
};

// The same over the raw rings (raw_channel.hpp): no runtime on the user
// side, so this is the kernel's part (ioctl, validation, component, pool).
bool raw_round_trips(milk::vm::RawChannel& channel, std::uint32_t first, std::uint32_t batch) {
    // 8 bytes of our own pool each; the echo hands them back in place.
    for (std::uint32_t i = 0; i < batch; ++i) channel.put(ping(first + i, {64 * i, 8}));
    if (::ioctl(channel.fd, MILK_IOC_KICK, 0) != static_cast<long>(batch)) return false;
    for (std::uint32_t i = 0; i < batch; ++i) {
        milk::Slot reply;
        if (!channel.take(reply)) return false;
        examples_pingpong_PingPong pong;
        std::memcpy(&pong, &reply, sizeof(pong));
        if (pong.body.Pong.seq != first + i || pong.body.Pong.payload.offset != 64 * i) return false;
    }
    return true;
}

// A futex ping-pong between this thread and another, each sleeping right
// away (no spinning), as a doorbell peer does. A sample is one round trip.
void futex_round_trips(std::uint32_t rounds) {
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
        for (std::uint32_t i = 0; i < rounds + 1000; ++i) {
            wait_while(0);
            set_and_wake(0);
        }
    });
    const auto one = [&](std::uint32_t) {
        set_and_wake(1);
        wait_while(1);
        return true;
    };
    for (std::uint32_t i = 0; i < 1000; ++i) static_cast<void>(one(i));  // warm up: the peer's first wake-ups
    measure("futex wake-up round trip", 1, rounds, one);
    peer.join();
}

void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    MILK_VM_CHECK(::sched_setaffinity(0, sizeof(set), &set) == 0);
}

// The user side's share of a doorbell round trip's buffer work: a block of
// our own pool exported and imported back (what the Ping and the echo's Pong
// do to it), without the kernel. A sample is one export and import.
void own_block_row(milk::kernel::KernelTransport& channel, std::uint32_t count) {
    auto allocated = channel.allocate(8);
    MILK_VM_CHECK(allocated.ok());
    milk::Buffer buffer = std::move(allocated).value();
    measure("milk export+import of own block (user side)", 1, count, [&](std::uint32_t) {
        auto wire = channel.export_buffer(std::move(buffer));
        if (!wire.ok()) return false;
        auto back = channel.import_buffer(wire.value());
        if (!back.ok()) return false;
        buffer = std::move(back).value();
        return true;
    });
}

// Whether milk_rows also times the user side's own-block cycle.
enum class OwnBlockRow : std::uint8_t { Without, With };

void milk_rows(const char* name, milk::kernel::Options options, std::uint32_t batches_of_one,
               OwnBlockRow own_block = OwnBlockRow::Without, Ring ring = Ring::Ioctl) {
    if (ring != Ring::Ioctl) options.kick = milk::kernel::Kick::ByCaller;
    auto transport = milk::kernel::KernelTransport::try_open("echo", "examples.pingpong.PingPong", milk::vm::served_version("echo"), options);
    MILK_VM_CHECK(transport.ok());
    Doorbell doorbell(*transport.value(), ring);
    for (int i = 0; i < 128; ++i) MILK_VM_CHECK(doorbell.round_trips(32));  // warm up
    measure(name, 1, batches_of_one, [&](std::uint32_t) { return doorbell.round_trips(1); });
    measure(name, 32, 2048, [&](std::uint32_t) { return doorbell.round_trips(32); });
    if (own_block == OwnBlockRow::With) own_block_row(*transport.value(), batches_of_one);
}

void print_rows() {
    std::printf("%-34s %5s %10s %10s %10s %12s\n", "mechanism", "batch", "p50 ns", "p99 ns", "mean ns",
                "msgs/s");
    for (const Row& row : rows)
        std::printf("%-34s %5u %10.0f %10.0f %10.0f %12.0f\n", row.name.c_str(), row.batch, row.p50, row.p99,
                    row.mean, 1e9 / row.mean);
    // For the plot (tests/vm/bench/plot-messaging.sh): one line per row.
    for (const Row& row : rows)
        std::printf("MILK-BENCH-ROW %s|%u|%.0f|%.0f|%.0f\n", row.name.c_str(), row.batch, row.p50, row.p99, row.mean);
}

void ratio(const char* label, double value, const char* note = "") {
    std::printf("ratio %-62s %8.2f %s\n", label, value, note);
}

}  // namespace

int main() {
    constexpr std::uint32_t calls = 100'000;
    constexpr std::uint32_t round_trips = 20'000;

    // Floors.
    measure("getppid", 1, calls, [](std::uint32_t) { return ::getppid() > 0; });
    {
        const int bare = milk::vm::open_device();
        measure("bare ioctl (/dev/milk)", 1, calls, [bare](std::uint32_t) {
            // A kick without a channel: the whole entry path, then ENOTCONN.
            return ::ioctl(bare, MILK_IOC_KICK, 0) == -1;
        });
        ::close(bare);
    }
    futex_round_trips(round_trips);

    // Linux's mechanisms, through milk.ko's messaging lab.
    {
        lab::Device device;
        measure("ioctl echo", 1, round_trips, [&](std::uint32_t i) { return lab::ioctl_round_trip(device, i); });
        measure("read/write", 1, round_trips, [&](std::uint32_t i) { return lab::read_write_round_trip(device, i); });
    }
    {
        lab::Netlink netlink;
        measure("generic netlink", 1, round_trips, [&](std::uint32_t i) { return netlink.round_trip(i); });
    }
    for (const auto polling : {lab::Uring::Polling::Off, lab::Uring::Polling::SqPoll}) {
        lab::Device device;
        lab::Uring ring(device, polling);
        const std::string suffix = polling == lab::Uring::Polling::SqPoll ? ", SQPOLL" : "";
        for (int i = 0; i < 64; ++i) MILK_VM_CHECK(ring.echoes(0, 32));  // warm up
        measure("io_uring NOP" + suffix, 1, round_trips, [&](std::uint32_t) { return ring.nops(1); });
        measure("io_uring NOP" + suffix, 32, round_trips / 8, [&](std::uint32_t) { return ring.nops(32); });
        measure("io_uring URING_CMD" + suffix, 1, round_trips, [&](std::uint32_t i) { return ring.echoes(i, 1); });
        measure("io_uring URING_CMD" + suffix, 32, round_trips / 8,
                [&](std::uint32_t i) { return ring.echoes(32ull * i, 32); });
    }
    {
        lab::Device device;
        lab::EventfdChannel channel(device);
        measure("eventfd (kernel thread signals)", 1, round_trips / 2,
                [&](std::uint32_t i) { return channel.round_trips(i, 1); });
        measure("eventfd (kernel thread signals)", 32, round_trips / 16,
                [&](std::uint32_t i) { return channel.round_trips(32ull * i, 32); });
    }
    {
        lab::FaultChannel faults;
        measure("userfaultfd fault, handler thread", 1, round_trips / 2,
                [&](std::uint32_t i) { return faults.round_trip(i + 1); });
    }

    // milk.
    milk_rows("milk inline", milk::kernel::Options{}, round_trips, OwnBlockRow::With);
    // The same doorbell as an io_uring command (MILK_URING_KICK): alone,
    // and in one submission with a NOP, as a policy that does its other I/O
    // through io_uring would kick.
    milk_rows("milk inline, kick as io_uring cmd", milk::kernel::Options{}, round_trips, OwnBlockRow::Without,
              Ring::Uring);
    milk_rows("milk inline, io_uring kick + NOP", milk::kernel::Options{}, round_trips, OwnBlockRow::Without,
              Ring::UringBesideNop);
    {
        auto raw = milk::vm::open_raw("examples.pingpong.PingPong", 64, 256 * 1024);
        measure("milk raw rings (no runtime)", 1, round_trips,
                [&](std::uint32_t i) { return raw_round_trips(raw, i, 1); });
        measure("milk raw rings (no runtime)", 32, 2048,
                [&](std::uint32_t i) { return raw_round_trips(raw, 32 * i, 32); });
        milk::vm::close_raw(raw);
    }
    milk::kernel::Options sleeping;
    sleeping.serving = milk::kernel::Serving::Thread;
    // A client that sleeps at once, like the thread: no spinning anywhere.
    sleeping.spin_budget = std::chrono::nanoseconds(0);
    milk_rows("milk thread", sleeping, round_trips / 4);
    // The polling thread goes on another CPU than the one that opens the
    // channel; this thread stays on its own, so the two never poll against
    // each other.
    pin_to_cpu(0);
    milk::kernel::Options polled;
    polled.serving = milk::kernel::Serving::PollingThread;
    polled.spin_budget = std::chrono::milliseconds(1);
    milk_rows("milk polled", polled, round_trips);

    print_rows();

    const double getppid = find("getppid", 1).p50;
    const double ioctl = find("bare ioctl (/dev/milk)", 1).p50;
    const double wake = find("futex wake-up round trip", 1).p50;
    std::printf("\nratios of p50 per message, against floors measured in this boot:\n");
    for (const Row& row : rows) {
        if (row.name == "getppid") continue;
        std::printf("ratio %-40s batch %2u  / getppid %7.2f  / bare ioctl %7.2f\n", row.name.c_str(), row.batch,
                    row.p50 / getppid, row.p50 / ioctl);
    }
    ratio("milk thread batch 1 / (bare ioctl + futex wake-up)", find("milk thread", 1).p50 / (ioctl + wake),
          "(target <= 1.1)");
    ratio("milk inline batch 1 / ioctl echo", find("milk inline", 1).p50 / find("ioctl echo", 1).p50);
    ratio("milk inline batch 32 / io_uring URING_CMD batch 32",
          find("milk inline", 32).p50 / find("io_uring URING_CMD", 32).p50);
    ratio("milk io_uring kick batch 1 / milk ioctl kick batch 1",
          find("milk inline, kick as io_uring cmd", 1).p50 / find("milk inline", 1).p50);
    ratio("milk io_uring kick + NOP / (milk inline + io_uring NOP), batch 1",
          find("milk inline, io_uring kick + NOP", 1).p50 /
              (find("milk inline", 1).p50 + find("io_uring NOP", 1).p50));
    ratio("milk io_uring kick + NOP / (milk inline + io_uring NOP), batch 32",
          find("milk inline, io_uring kick + NOP", 32).p50 /
              (find("milk inline", 32).p50 + find("io_uring NOP", 1).p50 / 32));
    ratio("milk polled batch 1 / getppid", find("milk polled", 1).p50 / getppid, "(target <= 1.0)");
    ratio("milk polled batch 1 / io_uring URING_CMD, SQPOLL batch 1",
          find("milk polled", 1).p50 / find("io_uring URING_CMD, SQPOLL", 1).p50);
    ratio("milk thread batch 1 / eventfd batch 1",
          find("milk thread", 1).p50 / find("eventfd (kernel thread signals)", 1).p50);
    ratio("generic netlink / ioctl echo", find("generic netlink", 1).p50 / find("ioctl echo", 1).p50);
    ratio("userfaultfd fault / futex wake-up round trip", find("userfaultfd fault, handler thread", 1).p50 / wake);
    return 0;
}
