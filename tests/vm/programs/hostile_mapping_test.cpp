// The region outlives the fd while it is mapped, mappings can be dropped in
// any order, and a process that dies holding a channel (exiting or killed
// mid-traffic) leaves nothing behind: the module's allocation count at
// unload, checked by the VM harness, is the proof of the last part.
#include "vm_check.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>

namespace {

constexpr std::uint32_t capacity = 16;

void close_while_mapped() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    const milk::Slot slot = milk::vm::make_slot(7);
    auto pushed = echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
    MILK_VM_CHECK(pushed.ok() && pushed.value() == 1);
    MILK_VM_CHECK(::close(echo.fd) == 0);
    // The mapping holds the file, so the region is still there: the slot
    // reads back and the memory stays writable.
    MILK_VM_CHECK(std::memcmp(echo.to_kernel_slots(), &slot, sizeof(slot)) == 0);
    std::memset(echo.base, 0x5a, echo.info.region_bytes);
    MILK_VM_CHECK(echo.base[echo.info.region_bytes - 1] == std::byte{0x5a});
    MILK_VM_CHECK(::munmap(echo.base, echo.info.region_bytes) == 0);
}

void unmap_then_kick() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    const milk::Slot slot = milk::vm::make_slot(9);
    auto pushed = echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
    MILK_VM_CHECK(pushed.ok() && pushed.value() == 1);
    MILK_VM_CHECK(::munmap(echo.base, echo.info.region_bytes) == 0);
    // The kernel works on its own mapping of the region, so a kick after
    // munmap still echoes; user space just cannot see it any more.
    MILK_VM_CHECK(::ioctl(echo.fd, MILK_IOC_KICK, 0) == 1);
    // Mapping again shows the same region, with the echo in it.
    void* again = ::mmap(nullptr, echo.info.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, echo.fd, 0);
    MILK_VM_CHECK(again != MAP_FAILED);
    echo.base = static_cast<std::byte*>(again);
    const milk::Slot reply = milk::vm::make_reply(9);
    MILK_VM_CHECK(std::memcmp(echo.from_kernel_slots(), &reply, sizeof(reply)) == 0);
    milk::vm::unmap_and_close(echo);
}

void two_mappings() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    void* second = ::mmap(nullptr, echo.info.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, echo.fd, 0);
    MILK_VM_CHECK(second != MAP_FAILED);
    echo.base[100] = std::byte{0x42};
    MILK_VM_CHECK(static_cast<std::byte*>(second)[100] == std::byte{0x42});
    // Drop the fd, then the first mapping, then the second: the region goes
    // with the last of them.
    MILK_VM_CHECK(::close(echo.fd) == 0);
    MILK_VM_CHECK(::munmap(echo.base, echo.info.region_bytes) == 0);
    MILK_VM_CHECK(static_cast<std::byte*>(second)[100] == std::byte{0x42});
    MILK_VM_CHECK(::munmap(second, echo.info.region_bytes) == 0);
}

// A child that creates a channel, maps it, sends, and exits without closing
// or unmapping anything.
[[noreturn]] void child_exits_holding_channel() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    const milk::Slot slot = milk::vm::make_slot(1);
    (void)echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
    if (::ioctl(echo.fd, MILK_IOC_KICK, 0) != 1) ::_exit(2);
    ::_exit(0);
}

void children_die_holding_channels() {
    // Exits normally with everything still open and mapped.
    const pid_t exiting = ::fork();
    MILK_VM_CHECK(exiting >= 0);
    if (exiting == 0) child_exits_holding_channel();
    int status = 0;
    MILK_VM_CHECK(::waitpid(exiting, &status, 0) == exiting);
    MILK_VM_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    // Killed while kicking in a loop. The pipe tells us it is under way.
    int ready[2];
    MILK_VM_CHECK(::pipe(ready) == 0);
    const pid_t killed = ::fork();
    MILK_VM_CHECK(killed >= 0);
    if (killed == 0) {
        ::close(ready[0]);
        auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
        const char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
        for (std::uint64_t sequence = 0;; ++sequence) {
            const milk::Slot slot = milk::vm::make_slot(sequence);
            (void)echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
            if (::ioctl(echo.fd, MILK_IOC_KICK, 0) < 0) ::_exit(2);
            milk::Slot drained[capacity];
            (void)echo.from_kernel.try_pop(std::span<milk::Slot>(drained));
        }
    }
    ::close(ready[1]);
    char byte = 0;
    MILK_VM_CHECK(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    MILK_VM_CHECK(::kill(killed, SIGKILL) == 0);
    MILK_VM_CHECK(::waitpid(killed, &status, 0) == killed);
    MILK_VM_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    // A mapping inherited across fork keeps the region after both the parent
    // and the child dropped the fd.
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    MILK_VM_CHECK(::close(echo.fd) == 0);
    const pid_t writer = ::fork();
    MILK_VM_CHECK(writer >= 0);
    if (writer == 0) {
        echo.base[200] = std::byte{0x77};
        ::_exit(0);
    }
    MILK_VM_CHECK(::waitpid(writer, &status, 0) == writer);
    MILK_VM_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    MILK_VM_CHECK(echo.base[200] == std::byte{0x77});
    MILK_VM_CHECK(::munmap(echo.base, echo.info.region_bytes) == 0);
}

}  // namespace

int main() {
    close_while_mapped();
    unmap_then_kick();
    two_mappings();
    children_die_holding_channels();
    std::printf("hostile mapping: regions follow their last holder\n");
    return 0;
}
