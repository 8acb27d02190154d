// The messaging lab in the VM: every kernel <-> user mechanism milk.ko
// offers for comparison (kernel-stubs/include/milk_lab_uapi.h) answers
// right, the right number of times, and refuses what it must. The benchmark
// (bench/kernel_bench.cpp) times the same clients.
#include "lab_client.hpp"
#include "vm_check.hpp"

#include <sys/eventfd.h>

#include <cstdio>

using namespace milk::vm;

namespace {

constexpr std::uint64_t rounds = 100;

void ioctl_and_read_write() {
    lab::Device device;
    for (std::uint64_t i = 0; i < rounds; ++i) MILK_VM_CHECK(lab::ioctl_round_trip(device, i));
    for (std::uint64_t i = 0; i < rounds; ++i) MILK_VM_CHECK(lab::read_write_round_trip(device, i));
    // Refusals: a bad address, a read with nothing stored, a short write,
    // a kick with no eventfd bound, an unknown command.
    MILK_VM_CHECK_ERRNO(::ioctl(device.fd(), MILK_LAB_IOC_ECHO, 8), EFAULT);
    lab::Message message = lab::request(1);
    MILK_VM_CHECK_ERRNO(::read(device.fd(), &message, sizeof(message)), ENODATA);
    MILK_VM_CHECK_ERRNO(::write(device.fd(), &message, 63), EINVAL);
    // Through a volatile, so that the compiler does not judge the address.
    void* volatile unmapped = reinterpret_cast<void*>(8);
    MILK_VM_CHECK_ERRNO(::write(device.fd(), unmapped, sizeof(message)), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(device.fd(), MILK_LAB_IOC_KICK, 0), ENOTCONN);
    MILK_VM_CHECK_ERRNO(::ioctl(device.fd(), _IO(MILK_LAB_IOC_MAGIC, 0x7f), 0), ENOTTY);
    std::printf("messaging: ioctl and read/write: %llu round trips each, refusals right\n",
                static_cast<unsigned long long>(rounds));
}

void uring(lab::Uring::Polling polling, const char* name) {
    lab::Device device;
    lab::Uring ring(device, polling);
    MILK_VM_CHECK(ring.nops(1));
    MILK_VM_CHECK(ring.nops(32));
    std::uint64_t seq = 0;
    for (std::uint64_t i = 0; i < rounds; ++i, ++seq) MILK_VM_CHECK(ring.echoes(seq, 1));
    for (std::uint64_t i = 0; i < 4; ++i, seq += 32) MILK_VM_CHECK(ring.echoes(seq, 32));
    std::printf("messaging: io_uring (%s): NOPs, %llu URING_CMD echoes\n", name,
                static_cast<unsigned long long>(rounds + 4 * 32));
}

void eventfd_channel() {
    lab::Device device;
    lab::EventfdChannel channel(device);
    std::uint64_t seq = 0;
    for (std::uint64_t i = 0; i < rounds; ++i, ++seq) MILK_VM_CHECK(channel.round_trips(seq, 1));
    for (std::uint64_t i = 0; i < 4; ++i, seq += 32) MILK_VM_CHECK(channel.round_trips(seq, 32));
    // One eventfd per file: a second bind is refused; a bad fd, or a file
    // that is not an eventfd, too.
    const int second = ::eventfd(0, EFD_CLOEXEC);
    MILK_VM_CHECK(second >= 0);
    MILK_VM_CHECK_ERRNO(::ioctl(device.fd(), MILK_LAB_IOC_EVENTFD, second), EBUSY);
    ::close(second);
    lab::Device other;
    MILK_VM_CHECK_ERRNO(::ioctl(other.fd(), MILK_LAB_IOC_EVENTFD, 1234), EBADF);
    const int not_eventfd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    MILK_VM_CHECK_ERRNO(::ioctl(other.fd(), MILK_LAB_IOC_EVENTFD, not_eventfd), EINVAL);
    ::close(not_eventfd);
    std::printf("messaging: eventfd: %llu round trips, refusals right\n",
                static_cast<unsigned long long>(rounds + 4 * 32));
}

void netlink() {
    lab::Netlink family;
    for (std::uint64_t i = 0; i < rounds; ++i) MILK_VM_CHECK(family.round_trip(i));
    std::printf("messaging: generic netlink: %llu round trips\n", static_cast<unsigned long long>(rounds));
}

void faults() {
    lab::FaultChannel channel;
    for (std::uint64_t i = 1; i <= rounds; ++i) MILK_VM_CHECK(channel.round_trip(i));
    std::printf("messaging: userfaultfd: %llu faults resolved by a handler thread\n",
                static_cast<unsigned long long>(rounds));
}

}  // namespace

int main() {
    // Unbuffered: a mechanism that hangs must not take the lines before it.
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    ioctl_and_read_write();
    uring(lab::Uring::Polling::Off, "interrupt-driven");
    uring(lab::Uring::Polling::SqPoll, "SQPOLL");
    eventfd_channel();
    netlink();
    faults();
    std::printf("messaging: all mechanisms answered\n");
    return 0;
}
