// /dev/milk answers MILK_IOC_VERSION with the ABI this program was built
// against, and refuses an ioctl it does not know with ENOTTY.
#include "vm_check.hpp"

int main() {
    const int fd = milk::vm::open_device();
    milk_version version{0xdeadbeef, 0xdeadbeef};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_VERSION, &version) == 0);
    MILK_VM_CHECK(version.abi_version == MILK_ABI_VERSION);
    MILK_VM_CHECK(version.reserved == 0);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, _IO(MILK_IOC_MAGIC, 0x7f), 0), ENOTTY);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, _IOR('x', 0x01, milk_version), &version), ENOTTY);
    MILK_VM_CHECK(::close(fd) == 0);
    std::printf("version: ABI %u\n", version.abi_version);
    return 0;
}
