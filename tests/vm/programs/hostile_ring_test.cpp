// User space corrupts what it shares with the kernel: ring indices, slot
// headers, and (at random) every byte of the region. The kernel must refuse
// with EPROTO, close the channel, say why in the status block, answer EPIPE
// afterwards, and never oops.
#include "vm_check.hpp"

#include <atomic>

namespace {

constexpr std::uint32_t capacity = 8;

std::uint32_t load_index(std::uint32_t& word) {
    return std::atomic_ref<std::uint32_t>(word).load(std::memory_order_acquire);
}
void store_index(std::uint32_t& word, std::uint32_t value) {
    std::atomic_ref<std::uint32_t>(word).store(value, std::memory_order_release);
}

// Kicks once expecting the violation `reason`, then once expecting EPIPE.
void expect_closed(milk::vm::EchoMapping& echo, milk::ErrorCode reason) {
    MILK_VM_CHECK_ERRNO(::ioctl(echo.fd, MILK_IOC_KICK, 0), EPROTO);
    MILK_VM_CHECK(echo.status()->closed == 1);
    MILK_VM_CHECK(echo.status()->reason == static_cast<std::uint32_t>(reason));
    MILK_VM_CHECK_ERRNO(::ioctl(echo.fd, MILK_IOC_KICK, 0), EPIPE);
    milk::vm::unmap_and_close(echo);
}

void producer_index_ahead() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    store_index(echo.to_kernel_header()->producer_index, capacity + 5);
    expect_closed(echo, milk::ErrorCode::CorruptRing);
}

void producer_index_behind() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    store_index(echo.to_kernel_header()->producer_index, 0xffffffffu);
    expect_closed(echo, milk::ErrorCode::CorruptRing);
}

// The kernel reads the consumer index of the from-kernel ring only when its
// cached copy says the ring is full, so fill it first.
void consumer_index_corrupt() {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    for (std::uint64_t i = 0; i < capacity; ++i) {
        const milk::Slot slot = milk::vm::make_slot(i);
        auto pushed = echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
        MILK_VM_CHECK(pushed.ok() && pushed.value() == 1);
    }
    MILK_VM_CHECK(::ioctl(echo.fd, MILK_IOC_KICK, 0) == capacity);
    const milk::Slot extra = milk::vm::make_slot(capacity);
    auto pushed = echo.to_kernel.try_push(std::span<const milk::Slot>(&extra, 1));
    MILK_VM_CHECK(pushed.ok() && pushed.value() == 1);
    // Ahead of everything the kernel ever produced.
    store_index(echo.from_kernel_header()->consumer_index, load_index(echo.from_kernel_header()->producer_index) + 3);
    expect_closed(echo, milk::ErrorCode::CorruptRing);
}

// A slot whose header is invalid, written straight into the ring.
void bad_slot(void (*spoil)(milk::Slot&)) {
    auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
    milk::Slot slot = milk::vm::make_slot(0);
    spoil(slot);
    auto pushed = echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
    MILK_VM_CHECK(pushed.ok() && pushed.value() == 1);
    expect_closed(echo, milk::ErrorCode::ProtocolViolation);
}

// Honest traffic with random bytes written over the rings (indices, slot
// headers, payloads) between kicks, on many channels. Any kick result is
// acceptable except an oops: counts >= 0 until the first EPROTO, then EPIPE.
void scribble() {
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    constexpr int channels = 200;
    int closed = 0;
    for (int channel = 0; channel < channels; ++channel) {
        auto echo = milk::vm::map_echo(milk::vm::open_device(), capacity);
        // The message rings, not the control block: a status word user
        // space scribbles on is its own close (a normal one, EPIPE after),
        // which this test does not count.
        const std::size_t first = echo.layout.message_ring_offset[0];
        const std::size_t end = echo.layout.message_ring_offset[1] + milk::ring_region_bytes<milk::Slot>(capacity);
        MILK_VM_CHECK(echo.layout.control_offset + sizeof(milk::ChannelControl) <= first && first < end);
        bool refused = false;
        for (std::uint64_t round = 0; round < 50; ++round) {
            // User space's own ring objects may see the corruption too; that
            // is their business, so their errors are ignored here.
            const milk::Slot slot = milk::vm::make_slot(round);
            (void)echo.to_kernel.try_push(std::span<const milk::Slot>(&slot, 1));
            const std::uint64_t scribbles = next() % 3;
            for (std::uint64_t i = 0; i < scribbles; ++i)
                echo.base[first + next() % (end - first)] = static_cast<std::byte>(next());
            errno = 0;
            const long kicked = ::ioctl(echo.fd, MILK_IOC_KICK, 0);
            if (kicked < 0) {
                MILK_VM_CHECK(errno == (refused ? EPIPE : EPROTO));
                refused = true;
            } else {
                MILK_VM_CHECK(!refused);
                MILK_VM_CHECK(kicked <= static_cast<long>(capacity));
            }
            milk::Slot drained[capacity];
            (void)echo.from_kernel.try_pop(std::span<milk::Slot>(drained));
        }
        closed += refused ? 1 : 0;
        milk::vm::unmap_and_close(echo);
    }
    std::printf("scribble: %d of %d channels closed by the kernel\n", closed, channels);
    // The sequence is fixed (a seeded xorshift), and random bytes over live
    // indices and headers are caught on most channels: none caught would mean
    // the kernel checks nothing.
    MILK_VM_CHECK(closed > 0);
}

}  // namespace

int main() {
    producer_index_ahead();
    producer_index_behind();
    consumer_index_corrupt();
    bad_slot([](milk::Slot& slot) { slot.tag = 0; });
    bad_slot([](milk::Slot& slot) { slot.length = milk::slot_payload_size + 1; });
    bad_slot([](milk::Slot& slot) { slot.flags = 1; });
    scribble();
    std::printf("hostile ring: every corruption refused\n");
    return 0;
}
