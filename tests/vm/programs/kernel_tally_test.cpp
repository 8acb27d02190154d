// The tally example's client, unchanged, against the tally component inside
// milk.ko: a server that speaks first and receives many messages per answer,
// so it runs in a kernel thread of its channel whose receive sleeps until
// user space sends (the example's own serve_tally). Then what a serving
// thread must survive: a message the protocol does not allow (the kernel's
// validator, in the thread), a client that breaks the service's own rule
// (the component's error closes the channel), and files closed while the
// thread sleeps in its receive or sends to a client that never reads.
#include "raw_channel.hpp"
#include "tally.hpp"
#include "tally.kstub.h"

#include <milk/kernel.hpp>

#include <poll.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "../../../examples/tally/tally_client.hpp"
#include "../../../components/tally/tally_component.hpp"  // default_limit, what Ready must announce

using namespace examples::tally;
using components::tally::default_limit;
using milk::ErrorCode;
using milk::Slot;
using milk::vm::RawChannel;

namespace {

constexpr const char* tally = "examples.tally.Tally";

bool run_over_kernel(milk::kernel::Serving serving, const char* how) {
    milk::kernel::Options options;
    options.serving = serving;
    auto transport = milk::kernel::KernelTransport::try_open("tally", tally, Tally::Contract::version, options);
    if (!transport) {
        std::printf("try_open failed: %s (%lld)\n", milk::describe(transport.error().code),
                    static_cast<long long>(transport.error().detail));
        return false;
    }
    // Asked to run inline in the kick, the kernel grants a thread instead:
    // this component is not a step per message.
    const milk::kernel::Serving granted = transport.value()->serving();
    if (serving == milk::kernel::Serving::InKick && granted != milk::kernel::Serving::Thread) {
        std::printf("%s: the kernel did not give the tally component a thread\n", how);
        return false;
    }
    milk::Result<ClientReport> report = run_tally_client(Tally::client(milk::ChannelEnd(std::move(transport).value())));
    if (!report) {
        std::printf("%s: client failed: %s (%lld)\n", how, milk::describe(report.error().code),
                    static_cast<long long>(report.error().detail));
        return false;
    }
    std::printf("%s: Ready with limit %u, %u tallies of %llu values, %u wrong sums\n", how, report.value().limit,
                report.value().tallies, static_cast<unsigned long long>(report.value().values), report.value().wrong);
    return report.value().limit == default_limit && report.value().tallies == tally_rounds && report.value().wrong == 0;
}

Slot encode(std::uint16_t tag, const examples_tally_Tally& message) {
    examples_tally_Tally encoded = message;
    encoded.tag = tag;
    encoded.length = static_cast<milk_ku16>(examples_tally_Tally_payload_size(tag));
    Slot slot;
    std::memcpy(static_cast<void*>(&slot), &encoded, sizeof(slot));
    return slot;
}

Slot add(std::uint64_t value) {
    examples_tally_Tally message{};
    message.body.Add.value = value;
    return encode(examples_tally_Tally_tag_Add, message);
}

// Publishes a slot and rings the thread's doorbell the way KernelTransport
// does: swap the word to Awake, kick only if the thread said it sleeps.
void send(RawChannel& channel, const Slot& slot) {
    channel.put(slot);
    auto* control = reinterpret_cast<milk::ChannelControl*>(channel.base + channel.layout.control_offset);
    if (std::atomic_ref<std::uint32_t>(control->data_bell[0].state).exchange(0) != 0)
        MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 0);
}

// Waits (in poll(), as a client does) for the next reply, which must come.
Slot next_reply(RawChannel& channel) {
    Slot slot;
    for (int attempt = 0; attempt < 100 && !channel.take(slot); ++attempt) {
        pollfd entry{channel.fd, POLLIN, 0};
        MILK_VM_CHECK(::poll(&entry, 1, 100) >= 0);
    }
    MILK_VM_CHECK(slot.tag != 0);
    return slot;
}

RawChannel greeted_channel() {
    RawChannel channel = milk::vm::open_raw(tally, 8, 64 * 1024);
    // The request asked for no thread; the kernel says what it granted.
    MILK_VM_CHECK(channel.info.flags == MILK_CHANNEL_THREAD);
    const Slot ready = next_reply(channel);
    MILK_VM_CHECK(ready.tag == examples_tally_Tally_tag_Ready);
    return channel;
}

// Waits until the kernel has closed the channel, then checks its story.
void expect_closed(RawChannel& channel, ErrorCode reason, int kstub_code, const char* text, const char* what) {
    pollfd entry{channel.fd, POLLIN, 0};
    for (int attempt = 0; attempt < 100 && (entry.revents & POLLHUP) == 0; ++attempt)
        MILK_VM_CHECK(::poll(&entry, 1, 100) >= 0);
    MILK_VM_CHECK((entry.revents & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
    const milk_channel_error record = milk::vm::channel_error(channel);
    std::printf("%-40s -> %s\n", what, record.text);
    MILK_VM_CHECK(record.closed == 1);
    MILK_VM_CHECK(record.reason == static_cast<std::uint32_t>(reason));
    MILK_VM_CHECK(record.kstub_code == kstub_code);
    MILK_VM_CHECK(std::strstr(record.text, text) != nullptr);
    MILK_VM_CHECK(channel.kernel_status().closed == 1);
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPIPE);
}

}  // namespace

int main() {
    if (!run_over_kernel(milk::kernel::Serving::InKick, "asked for the kick, got a thread")) return 1;
    if (!run_over_kernel(milk::kernel::Serving::PollingThread, "polling thread")) return 1;

    // The server's own message from the client: the validator, run by the
    // serving thread on its receive, closes the channel.
    {
        RawChannel channel = greeted_channel();
        examples_tally_Tally sum{};
        sum.body.Sum.sum = 1;
        send(channel, encode(examples_tally_Tally_tag_Sum, sum));
        expect_closed(channel, ErrorCode::ProtocolViolation, MILK_KV_TAG_NOT_ALLOWED, "Sum",
                      "the server's Sum from the client");
        milk::vm::close_raw(channel);
    }
    // More Adds than the limit the server announced: the protocol allows
    // them, the component does not; its error closes the channel.
    {
        RawChannel channel = greeted_channel();
        for (std::uint32_t i = 0; i <= default_limit; ++i) {
            // The thread drains the ring as we go: wait for room.
            while (channel.sent - std::atomic_ref<std::uint32_t>(channel.to_kernel()->consumer_index).load() >=
                   channel.layout.ring_capacity)
                ::sched_yield();
            send(channel, add(i));
        }
        expect_closed(channel, ErrorCode::ProtocolViolation, 0, "more values than the tally's limit",
                      "one Add beyond the announced limit");
        milk::vm::close_raw(channel);
    }
    // The file closed while the thread sleeps in its receive, and while it
    // waits for room to send a Sum the client never reads (a 2-slot reply
    // ring filled with Sums): release stops the thread either way.
    {
        RawChannel sleeping = greeted_channel();
        MILK_VM_CHECK(::close(sleeping.fd) == 0);
        MILK_VM_CHECK(::munmap(sleeping.base, sleeping.info.region_bytes) == 0);

        RawChannel stuck = milk::vm::open_raw(tally, 2, 64 * 1024);
        for (int i = 0; i < 2; ++i) send(stuck, encode(examples_tally_Tally_tag_Total, examples_tally_Tally{}));
        ::usleep(50'000);
        // Ready and one Sum fill the two slots; the thread waits to send the
        // next Sum.
        MILK_VM_CHECK(std::atomic_ref<std::uint32_t>(stuck.from_kernel()->producer_index).load() == 2);
        milk::vm::close_raw(stuck);
        std::printf("files closed under a sleeping receive and a blocked send\n");
    }
    // A client that never reads its Sums, and a tally told to wait at most
    // 20 ms for room (`reply_timeout_ms`): the component's wait_for_room,
    // the deadline of its send, ends the channel with TimedOut instead of
    // holding the thread until the file is closed.
    {
        milk_settings settings{};
        settings.count = 1;
        std::strncpy(settings.entries[0].name, "reply_timeout_ms", MILK_SETTING_NAME_MAX - 1);
        settings.entries[0].value = 20;
        RawChannel stuck = milk::vm::open_raw(tally, 2, 64 * 1024, true, 0, settings);
        for (int i = 0; i < 2; ++i) send(stuck, encode(examples_tally_Tally_tag_Total, examples_tally_Tally{}));
        // The unread replies keep POLLIN up, so poll() would not wait: watch
        // the kernel's status word instead (10 s at most, under emulation).
        for (int i = 0; i < 1000 && std::atomic_ref<std::uint32_t>(stuck.kernel_status().closed).load() == 0; ++i)
            ::usleep(10'000);
        expect_closed(stuck, ErrorCode::TimedOut, 0, "no room in the reply ring before the deadline",
                      "Sums never read, reply_timeout_ms 20");
        milk::vm::close_raw(stuck);
    }
    std::printf("tally in the kernel: a server that speaks first and receives many messages per answer\n");
    return 0;
}
