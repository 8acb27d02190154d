// A million messages each way through the kernel's echo component, in
// order: Pings go out 32 to a kick through the `kernel` transport
// (KernelTransport::send_batch), every Pong must carry the next number, and
// every Ping carries a buffer of ours that the echo (the example's own
// server code, run in the kernel) hands back in its Pong, in the same
// block: imported, it goes out again in a later Ping (32 buffers, each
// lent and handed back 31250 times), and is dropped at the end.
#include "pingpong.kstub.h"
#include "vm_check.hpp"

#include <milk/kernel.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>

int main() {
    constexpr std::uint32_t total = 1'000'000;
    constexpr std::uint32_t batch = 32;
    auto transport = milk::kernel::KernelTransport::try_open("echo", "examples.pingpong.PingPong", milk::vm::served_version("echo"), milk::kernel::Options{});
    MILK_VM_CHECK(transport.ok());
    milk::kernel::KernelTransport& channel = *transport.value();

    std::array<milk::Slot, batch> pings{};
    std::array<milk::Buffer, batch> buffers;
    for (milk::Buffer& buffer : buffers) {
        auto allocated = channel.allocate(8);
        MILK_VM_CHECK(allocated.ok());
        buffer = std::move(allocated).value();
    }
    std::array<milk::WireBytes, batch> sent_handles{};
    std::uint32_t next_pong = 0;
    const auto started = std::chrono::steady_clock::now();
    for (std::uint32_t sent = 0; sent < total; sent += batch) {
        for (std::uint32_t i = 0; i < batch; ++i) {
            examples_pingpong_PingPong encoded{};
            encoded.tag = examples_pingpong_PingPong_tag_Ping;
            encoded.length = static_cast<milk_ku16>(examples_pingpong_PingPong_payload_size(encoded.tag));
            encoded.body.Ping.seq = sent + i;
            auto wire = channel.export_buffer(std::move(buffers[i]));
            MILK_VM_CHECK(wire.ok());
            sent_handles[i] = wire.value();
            encoded.body.Ping.payload = {wire.value().offset, wire.value().length};
            std::memcpy(static_cast<void*>(&pings[i]), &encoded, sizeof(milk::Slot));
        }
        auto pushed = channel.send_batch(pings);
        if (!pushed.ok()) {
            std::printf("send_batch failed at %u: %s (%s)\n", sent, milk::describe(pushed.error().code),
                        channel.error_text().c_str());
            return 1;
        }
        for (std::uint32_t i = 0; i < batch; ++i) {
            auto reply = channel.receive(milk::Deadline::never());
            MILK_VM_CHECK(reply.ok());
            examples_pingpong_PingPong pong;
            std::memcpy(&pong, &reply.value(), sizeof(pong));
            MILK_VM_CHECK(pong.tag == examples_pingpong_PingPong_tag_Pong);
            MILK_VM_CHECK(pong.body.Pong.seq == next_pong);
            ++next_pong;
            MILK_VM_CHECK(pong.body.Pong.payload.offset == sent_handles[i].offset &&
                          pong.body.Pong.payload.length == sent_handles[i].length);
            auto buffer = channel.import_buffer({pong.body.Pong.payload.offset, pong.body.Pong.payload.length});
            MILK_VM_CHECK(buffer.ok());
            buffers[i] = std::move(buffer).value();
        }
    }
    const auto elapsed = std::chrono::steady_clock::now() - started;
    MILK_VM_CHECK(next_pong == total);
    std::printf("%u messages each way in order, %lld ms (emulated time)\n", total,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    return 0;
}
