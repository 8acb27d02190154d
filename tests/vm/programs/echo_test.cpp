// 100000 messages through the kernel's echo component and back, in order
// and byte for byte: user space produces Pings with milk::RingProducer on the
// mapped message ring 0, kicks, and consumes the Pongs with
// milk::RingConsumer on ring 1.
#include "vm_check.hpp"

#include <array>
#include <chrono>

int main() {
    constexpr std::uint64_t total = 100000;
    constexpr std::uint32_t capacity = 256;
    constexpr std::size_t batch = 64;

    const int fd = milk::vm::open_device();
    auto echo = milk::vm::map_echo(fd, capacity);

    std::array<milk::Slot, batch> outgoing{};
    std::array<milk::Slot, batch> incoming{};
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t kicks = 0;
    std::uint64_t idle_rounds = 0;
    const auto started = std::chrono::steady_clock::now();
    while (received < total) {
        std::size_t wanted = total - sent < batch ? static_cast<std::size_t>(total - sent) : batch;
        for (std::size_t i = 0; i < wanted; ++i) outgoing[i] = milk::vm::make_slot(sent + i);
        auto pushed = echo.to_kernel.try_push(std::span<const milk::Slot>(outgoing.data(), wanted));
        MILK_VM_CHECK(pushed.ok());
        sent += pushed.value();

        const long echoed = ::ioctl(fd, MILK_IOC_KICK, 0);
        MILK_VM_CHECK(echoed >= 0);
        ++kicks;

        std::size_t drained = 0;
        for (;;) {
            auto popped = echo.from_kernel.try_pop(std::span<milk::Slot>(incoming));
            MILK_VM_CHECK(popped.ok());
            if (popped.value() == 0) break;
            for (std::size_t i = 0; i < popped.value(); ++i) {
                const milk::Slot expected = milk::vm::make_reply(received);
                MILK_VM_CHECK(std::memcmp(&incoming[i], &expected, sizeof(milk::Slot)) == 0);
                ++received;
            }
            drained += popped.value();
        }
        // Every round must move something; a round that moves nothing twice
        // in a row means the kernel stopped echoing.
        idle_rounds = (pushed.value() == 0 && echoed == 0 && drained == 0) ? idle_rounds + 1 : 0;
        MILK_VM_CHECK(idle_rounds < 2);
    }
    const auto elapsed = std::chrono::steady_clock::now() - started;
    MILK_VM_CHECK(sent == total && received == total);
    MILK_VM_CHECK(echo.status()->closed == 0);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_KICK, 0) == 0);  // nothing left to echo
    milk::vm::unmap_and_close(echo);
    std::printf("echo: %llu messages in order, %llu kicks, %lld us (emulated time)\n",
                static_cast<unsigned long long>(received), static_cast<unsigned long long>(kicks),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
    return 0;
}
