// Bad arguments to every ioctl and to mmap: each is refused with its errno,
// nothing oopses, and a refused call leaves no state (and, checked at module
// unload, no allocation) behind.
#include "vm_check.hpp"

#include <sys/mman.h>

namespace {

// A good request for a channel to the echo component.
milk_channel_open echo_request(std::uint32_t capacity = 16) {
    milk_channel_open request{};
    std::strncpy(request.component, "echo", sizeof(request.component) - 1);
    std::strncpy(request.contract, "examples.pingpong.PingPong", sizeof(request.contract) - 1);
    request.version = milk::vm::served_version("echo");
    request.ring_capacity = capacity;
    request.pool_bytes = 64 * 1024;
    return request;
}

void bad_pointers(int fd) {
    // Unmapped low address, a kernel address, and a pointer straddling the
    // end of a mapping: copy_to_user / copy_from_user must fail, not fault.
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_VERSION, reinterpret_cast<void*>(8)), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_VERSION, reinterpret_cast<void*>(0xffffffff81000000ull)), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, reinterpret_cast<void*>(8)), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_COMPONENT_INFO, reinterpret_cast<void*>(8)), EFAULT);

    const long page = ::sysconf(_SC_PAGESIZE);
    void* pages = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    MILK_VM_CHECK(pages != MAP_FAILED);
    MILK_VM_CHECK(::munmap(static_cast<char*>(pages) + page, page) == 0);
    auto* straddling = static_cast<char*>(pages) + page - 4;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_VERSION, straddling), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, straddling), EFAULT);

    // A read-only request: the kernel can read it and create the channel,
    // but cannot write the reply. The channel must then not be kept.
    auto* request = static_cast<milk_channel_open*>(pages);
    *request = echo_request();
    MILK_VM_CHECK(::mprotect(pages, page, PROT_READ) == 0);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, request), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_KICK, 0), ENODEV);
    MILK_VM_CHECK(::munmap(pages, page) == 0);
}

void bad_requests(int fd) {
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_KICK, 0), ENODEV);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_KICK, 1), EINVAL);
    MILK_VM_CHECK_ERRNO(::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0, ENODEV);
    for (std::uint32_t capacity : {0u, 1u, 3u, 100u, MILK_CHANNEL_MAX_CAPACITY * 2, 0x80000000u, 0xffffffffu}) {
        milk_channel_open request = echo_request(capacity);
        MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    }
    for (std::uint32_t flags : {MILK_CHANNEL_THREAD | MILK_CHANNEL_POLLING_THREAD, 4u, 0x80000000u}) {
        milk_channel_open flagged = echo_request();
        flagged.flags = flags;
        MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &flagged), EINVAL);
    }
}

void bad_mappings(int fd) {
    milk_channel_open request = echo_request();
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request) == 0);
    MILK_VM_CHECK(request.region_bytes > 0 && request.region_bytes % 4096 == 0);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EBUSY);

    const auto bytes = static_cast<std::size_t>(request.region_bytes);
    MILK_VM_CHECK_ERRNO(::mmap(nullptr, bytes + 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0, EINVAL);
    MILK_VM_CHECK_ERRNO(::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 4096) == MAP_FAILED ? -1 : 0, EINVAL);

    void* region = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    MILK_VM_CHECK(region != MAP_FAILED);
    // The mapping cannot be grown past the region.
    MILK_VM_CHECK(::mremap(region, bytes, bytes + 4096, 0) == MAP_FAILED);
    MILK_VM_CHECK(::munmap(region, bytes) == 0);
}

}  // namespace

int main() {
    const int fd = milk::vm::open_device();
    bad_pointers(fd);
    bad_requests(fd);
    bad_mappings(fd);
    MILK_VM_CHECK(::close(fd) == 0);
    std::printf("hostile ioctl: all bad calls refused\n");
    return 0;
}
