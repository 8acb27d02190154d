// Live relocation's kernel half (ABI 7; docs/relocation.md, "The kernel
// placement"), as the host uses it and as a hostile caller might:
// MILK_IOC_PARK stops a channel between two kicks with its component's
// snapshot (the client's later messages wait in ring 0), MILK_IOC_RESUME
// takes it back and serves what waited, MILK_IOC_RETIRE closes it with
// "moved", and MILK_IOC_OPEN_RESTORED opens a channel whose component starts
// from a snapshot, which the module reads as untrusted input. Every refusal
// has its errno, and nothing a caller passes oopses the kernel.
#include "vm_check.hpp"

#include "pingpong.hpp"

#include <milk/channel_status.hpp>
#include <milk/kernel.hpp>
#include <milk/snapshot.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {

namespace PingPong = examples::pingpong::PingPong;

// A host's view of one channel: the client's end, mapped and kicked by it,
// and a duplicate of the fd for the moves.
struct Held {
    milk::ChannelEnd client;
    int host_fd = -1;
};

Held open_echo(std::span<const std::byte> snapshot = {}) {
    auto fd = snapshot.empty()
                        ? milk::kernel::open_channel_fd("echo", PingPong::Contract::name, PingPong::Contract::version)
                        : milk::kernel::open_restored_channel_fd("echo", PingPong::Contract::name,
                                                                 PingPong::Contract::version, snapshot);
    MILK_VM_CHECK(fd.ok());
    Held held;
    held.host_fd = ::dup(fd.value());
    MILK_VM_CHECK(held.host_fd >= 0);
    auto end = milk::kernel::adopt_channel(fd.value());
    MILK_VM_CHECK(end.ok());
    held.client = std::move(end).value();
    return held;
}

void send_ping(milk::ChannelEnd& end, std::uint32_t seq) {
    auto payload = end.allocate(8);
    MILK_VM_CHECK(payload.ok());
    std::memset(payload.value().data(), static_cast<int>(seq), 8);
    milk::Slot slot{};
    MILK_VM_CHECK(milk_encode(PingPong::Ping{seq, std::move(payload).value()}, end, slot).ok());
    MILK_VM_CHECK(end.send(slot).ok());
}

// The next Pong within `wait`: its number, or -1 when none came.
long receive_pong(milk::ChannelEnd& end, std::chrono::milliseconds wait) {
    auto slot = end.receive(milk::Deadline::after(wait));
    if (!slot.ok()) return -1;
    auto pong = milk_decode(std::type_identity<PingPong::Pong>{}, slot.value(), end);
    MILK_VM_CHECK(pong.ok());
    return pong.value().seq;
}

// How many of the slots the client sent the kernel has not taken, read back
// from the ring as a move reads them; the first one's tag in `first_tag`.
std::size_t unreceived(milk::ChannelEnd& end, std::uint16_t& first_tag) {
    std::unique_ptr<milk::Transport> transport = std::move(end).release_transport();
    milk::Slot waiting[4];
    auto count = transport->unreceived(waiting);
    end = milk::ChannelEnd(std::move(transport));
    MILK_VM_CHECK(count.ok());
    first_tag = count.value() > 0 ? waiting[0].tag : 0;
    return count.value();
}

std::vector<std::byte> echo_snapshot() {
    std::vector<std::byte> bytes(milk::snapshot_header_bytes);
    milk::SnapshotWriter writer(bytes, "echo", 1);
    auto size = writer.finish();
    MILK_VM_CHECK(size.ok() && size.value() == bytes.size());
    return bytes;
}

// Parked, a channel takes nothing: a Ping waits in ring 0 (the client's
// end reads it back, as a move would), and resume serves it.
void parks_and_resumes() {
    Held held = open_echo();
    send_ping(held.client, 1);
    MILK_VM_CHECK(receive_pong(held.client, std::chrono::seconds(5)) == 1);

    auto snapshot = milk::kernel::park_channel(held.host_fd);
    MILK_VM_CHECK(snapshot.ok());
    // The same bytes user space writes for echo (a stateless component's
    // snapshot is its header alone).
    MILK_VM_CHECK(snapshot.value() == echo_snapshot());
    // Parking again is allowed, and writes the snapshot again.
    MILK_VM_CHECK(milk::kernel::park_channel(held.host_fd).ok());

    send_ping(held.client, 2);
    MILK_VM_CHECK(receive_pong(held.client, std::chrono::milliseconds(200)) == -1);
    std::uint16_t tag = 0;
    MILK_VM_CHECK(unreceived(held.client, tag) == 1);
    MILK_VM_CHECK(tag == 1);  // the Ping

    MILK_VM_CHECK(milk::kernel::resume_channel(held.host_fd).ok());
    MILK_VM_CHECK(receive_pong(held.client, std::chrono::seconds(5)) == 2);
    send_ping(held.client, 3);
    MILK_VM_CHECK(receive_pong(held.client, std::chrono::seconds(5)) == 3);
    // Not parked any more: resume and retire are refused.
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_RESUME, 0), EINVAL);
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_RETIRE, 0), EINVAL);
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_RESUME, 1), EINVAL);
    held.client.close();
    ::close(held.host_fd);
    std::printf("park: a parked channel takes nothing, resume serves what waited\n");
}

// Retired, the channel is closed with "moved": the client's end reads
// PeerClosed with moved_close_detail (its cue to look for the successor),
// and what it sent meanwhile is still in the ring to be carried on.
void retires_as_moved() {
    Held held = open_echo();
    MILK_VM_CHECK(milk::kernel::park_channel(held.host_fd).ok());
    send_ping(held.client, 7);
    MILK_VM_CHECK(milk::kernel::retire_channel(held.host_fd).ok());
    auto closed = held.client.receive(milk::Deadline::after(std::chrono::seconds(5)));
    MILK_VM_CHECK(!closed.ok());
    MILK_VM_CHECK(closed.error().code == milk::ErrorCode::PeerClosed);
    MILK_VM_CHECK(closed.error().detail == milk::moved_close_detail);
    std::uint16_t tag = 0;
    MILK_VM_CHECK(unreceived(held.client, tag) == 1);
    milk_channel_error record{};
    MILK_VM_CHECK(::ioctl(held.host_fd, MILK_IOC_CHANNEL_ERROR, &record) == 0);
    MILK_VM_CHECK(record.closed == 1);
    MILK_VM_CHECK(std::strstr(record.text, "moved to another placement") != nullptr);
    // Closed for good.
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_KICK, 0), EPIPE);
    milk_channel_park park{};
    std::vector<std::byte> room(4096);
    park.snapshot = reinterpret_cast<std::uintptr_t>(room.data());
    park.capacity = static_cast<milk_u32>(room.size());
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_PARK, &park), EPIPE);
    held.client.close();
    ::close(held.host_fd);
    std::printf("park: a retired channel reads as moved, its unreceived Ping still in the ring\n");
}

// What cannot be parked, and what a caller gets wrong.
void refuses_what_it_cannot() {
    std::vector<std::byte> room(4096);
    milk_channel_park park{};
    park.snapshot = reinterpret_cast<std::uintptr_t>(room.data());
    park.capacity = static_cast<milk_u32>(room.size());

    const int empty = milk::vm::open_device();
    MILK_VM_CHECK_ERRNO(::ioctl(empty, MILK_IOC_PARK, &park), ENODEV);
    MILK_VM_CHECK_ERRNO(::ioctl(empty, MILK_IOC_RESUME, 0), ENODEV);
    MILK_VM_CHECK_ERRNO(::ioctl(empty, MILK_IOC_RETIRE, 0), ENODEV);
    ::close(empty);

    // A serving thread may be inside a step at any moment: not parked.
    milk::kernel::Options threaded;
    threaded.serving = milk::kernel::Serving::Thread;
    auto thread_fd =
        milk::kernel::open_channel_fd("echo", PingPong::Contract::name, PingPong::Contract::version, threaded);
    MILK_VM_CHECK(thread_fd.ok());
    MILK_VM_CHECK_ERRNO(::ioctl(thread_fd.value(), MILK_IOC_PARK, &park), EOPNOTSUPP);
    ::close(thread_fd.value());
    // Nor a component without a step (tally serves whole sessions).
    auto tally_fd = milk::kernel::open_channel_fd("tally", "examples.tally.Tally", milk::vm::served_version("tally"));
    MILK_VM_CHECK(tally_fd.ok());
    MILK_VM_CHECK_ERRNO(::ioctl(tally_fd.value(), MILK_IOC_PARK, &park), EOPNOTSUPP);
    ::close(tally_fd.value());

    Held held = open_echo();
    // Bad addresses: the request, and the snapshot's room.
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_PARK, reinterpret_cast<void*>(8)), EFAULT);
    milk_channel_park wild = park;
    wild.snapshot = 8;
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_PARK, &wild), EFAULT);
    // Too little room: ENOSPC with the room it needs (parked all the same).
    milk_channel_park small = park;
    small.capacity = 4;
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_PARK, &small), ENOSPC);
    MILK_VM_CHECK(small.bytes == milk::snapshot_header_bytes);
    MILK_VM_CHECK(milk::kernel::resume_channel(held.host_fd).ok());
    send_ping(held.client, 9);
    MILK_VM_CHECK(receive_pong(held.client, std::chrono::seconds(5)) == 9);
    // The session's end: nothing left to move.
    milk::Slot bye{};
    MILK_VM_CHECK(milk_encode(PingPong::Bye{}, held.client, bye).ok());
    MILK_VM_CHECK(held.client.send(bye).ok());
    MILK_VM_CHECK_ERRNO(::ioctl(held.host_fd, MILK_IOC_PARK, &park), EPIPE);
    held.client.close();
    ::close(held.host_fd);
    std::printf("park: threads, serve-only components, ended sessions and bad addresses are refused\n");
}

milk::Result<int> open_restored_raw(std::span<const std::byte> snapshot, const char* component = "echo",
                                    const char* contract = PingPong::Contract::name) {
    return milk::kernel::open_restored_channel_fd(component, contract, milk::vm::served_version(component), snapshot);
}

// A snapshot is untrusted input: only the component's own, whole and
// unchanged, is restored.
void restores_only_a_good_snapshot() {
    const std::vector<std::byte> good = echo_snapshot();
    {
        Held held = open_echo(good);
        send_ping(held.client, 11);
        MILK_VM_CHECK(receive_pong(held.client, std::chrono::seconds(5)) == 11);
        held.client.close();
        ::close(held.host_fd);
    }
    // Another component's snapshot.
    std::vector<std::byte> other(milk::snapshot_header_bytes);
    milk::SnapshotWriter writer(other, "files", 1);
    MILK_VM_CHECK(writer.finish().ok());
    auto refused = open_restored_raw(other);
    MILK_VM_CHECK(!refused.ok() && refused.error().detail == EINVAL);
    // A flipped byte (the magic), a payload the component does not read, a
    // truncated one, and noise.
    std::vector<std::byte> flipped = good;
    flipped[0] ^= std::byte{1};
    refused = open_restored_raw(flipped);
    MILK_VM_CHECK(!refused.ok() && refused.error().detail == EINVAL);
    std::vector<std::byte> longer(milk::snapshot_header_bytes + 4);
    milk::SnapshotWriter extra(longer, "echo", 1);
    extra.put_u32(42);
    MILK_VM_CHECK(extra.finish().ok());
    refused = open_restored_raw(longer);
    MILK_VM_CHECK(!refused.ok() && refused.error().detail == EINVAL);
    refused = open_restored_raw(std::span(good).first(20));
    MILK_VM_CHECK(!refused.ok() && refused.error().detail == EINVAL);
    std::vector<std::byte> noise(512);
    for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<std::byte>(i * 37 + 11);
    refused = open_restored_raw(noise);
    MILK_VM_CHECK(!refused.ok() && refused.error().detail == EINVAL);
    // A component without a step has nothing to restore into.
    refused = open_restored_raw(good, "tally", "examples.tally.Tally");
    MILK_VM_CHECK(!refused.ok() && refused.error().detail == EOPNOTSUPP);

    // The raw request: sizes, the reserved field, bad addresses; and the fd
    // opens a channel afterwards as if nothing happened.
    const int fd = milk::vm::open_device();
    milk_channel_restore request{};
    std::strncpy(request.open.component, "echo", sizeof(request.open.component) - 1);
    std::strncpy(request.open.contract, PingPong::Contract::name, sizeof(request.open.contract) - 1);
    request.open.version = PingPong::Contract::version;
    request.open.ring_capacity = 8;
    request.open.pool_bytes = 64 * 1024;
    request.snapshot = reinterpret_cast<std::uintptr_t>(good.data());
    request.snapshot_bytes = 0;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_RESTORED, &request), EINVAL);
    request.snapshot_bytes = MILK_SNAPSHOT_MAX + 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_RESTORED, &request), EINVAL);
    request.snapshot_bytes = static_cast<milk_u32>(good.size());
    request.reserved = 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_RESTORED, &request), EINVAL);
    request.reserved = 0;
    request.snapshot = 8;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_RESTORED, &request), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_RESTORED, reinterpret_cast<void*>(8)), EFAULT);
    request.snapshot = reinterpret_cast<std::uintptr_t>(good.data());
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_OPEN_RESTORED, &request) == 0);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_RESTORED, &request), EBUSY);
    ::close(fd);
    std::printf("park: only the component's own snapshot, whole and unchanged, is restored\n");
}

milk_trace trace_request(const char* component, const char* instance, std::uint32_t command) {
    milk_trace request{};
    std::strncpy(request.component, component, sizeof(request.component) - 1);
    std::strncpy(request.instance, instance, sizeof(request.instance) - 1);
    request.command = command;
    return request;
}

// MILK_IOC_TRACE: the messages of an instance's channels, each with its
// channel, tag, speaker and states, oldest first; and its refusals.
void traces_an_instance() {
    MILK_VM_CHECK(milk::kernel::start_trace("echo", "traced").ok());
    milk::kernel::Options options;
    options.instance = "traced";
    auto fd = milk::kernel::open_channel_fd("echo", PingPong::Contract::name, PingPong::Contract::version, options);
    MILK_VM_CHECK(fd.ok());
    auto end = milk::kernel::adopt_channel(fd.value());
    MILK_VM_CHECK(end.ok());
    milk::ChannelEnd client = std::move(end).value();
    // Another instance's channel is not in this trace.
    Held other = open_echo();
    for (std::uint32_t seq = 0; seq < 3; ++seq) {
        send_ping(client, seq);
        MILK_VM_CHECK(receive_pong(client, std::chrono::seconds(5)) == seq);
        send_ping(other.client, seq);
        MILK_VM_CHECK(receive_pong(other.client, std::chrono::seconds(5)) == seq);
    }
    auto listed = milk::kernel::list_channels("echo", "traced");
    MILK_VM_CHECK(listed.ok() && listed.value().size() == 1);
    auto recorded = milk::kernel::stop_trace("echo", "traced");
    MILK_VM_CHECK(recorded.ok());
    const auto& records = recorded.value().records;
    MILK_VM_CHECK(records.size() == 6 && recorded.value().dropped == 0);
    for (std::size_t i = 0; i < records.size(); ++i) {
        const bool ping = i % 2 == 0;
        MILK_VM_CHECK(records[i].channel == listed.value()[0].id);
        MILK_VM_CHECK(records[i].tag == (ping ? 1 : 2));  // Ping, Pong
        MILK_VM_CHECK(records[i].from_client == ping);
        MILK_VM_CHECK(records[i].state_before == (ping ? 0u : 1u));  // Idle, Waiting
        MILK_VM_CHECK(records[i].state_after == (ping ? 1u : 0u));
        if (i > 0) MILK_VM_CHECK(records[i].time_ns >= records[i - 1].time_ns);
    }
    client.close();
    other.client.close();
    ::close(other.host_fd);

    const int device = milk::vm::open_device();
    // Stopped: no trace to stop; and a start for a component there is not.
    milk_trace request = trace_request("echo", "traced", MILK_TRACE_STOP);
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), ENOENT);
    request = trace_request("no-such", "traced", MILK_TRACE_START);
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), ENOENT);
    request = trace_request("echo", "", MILK_TRACE_START);
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), EINVAL);
    request = trace_request("echo", "traced", 3);
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), EINVAL);
    request = trace_request("echo", "traced", MILK_TRACE_START);
    std::memset(request.instance, 'a', sizeof(request.instance));
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), EINVAL);
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, reinterpret_cast<void*>(8)), EFAULT);
    // Eight sessions at once, one per instance.
    char names[MILK_TRACE_SESSIONS + 1][16];
    for (std::uint32_t i = 0; i <= MILK_TRACE_SESSIONS; ++i) {
        std::snprintf(names[i], sizeof(names[i]), "traced-%u", i);
        request = trace_request("echo", names[i], MILK_TRACE_START);
        if (i < MILK_TRACE_SESSIONS) MILK_VM_CHECK(::ioctl(device, MILK_IOC_TRACE, &request) == 0);
        else MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), EBUSY);
    }
    request = trace_request("echo", names[0], MILK_TRACE_START);
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), EALREADY);
    request = trace_request("echo", names[0], MILK_TRACE_STOP);
    request.capacity = MILK_TRACE_RECORDS + 1;
    MILK_VM_CHECK_ERRNO(::ioctl(device, MILK_IOC_TRACE, &request), EINVAL);
    request.capacity = 4;
    request.records = 8;  // never written: nothing was recorded
    MILK_VM_CHECK(::ioctl(device, MILK_IOC_TRACE, &request) == 0 && request.count == 0);
    // Two left running: the module frees them when it is unloaded (the
    // harness checks that it unloads with nothing allocated).
    for (std::uint32_t i = 1; i + 2 < MILK_TRACE_SESSIONS; ++i) {
        request = trace_request("echo", names[i], MILK_TRACE_STOP);
        MILK_VM_CHECK(::ioctl(device, MILK_IOC_TRACE, &request) == 0);
    }
    ::close(device);
    std::printf("trace: an instance's messages with their channel, tag, speaker and states; refusals\n");
}

}  // namespace

int main() {
    parks_and_resumes();
    retires_as_moved();
    refuses_what_it_cannot();
    restores_only_a_good_snapshot();
    traces_an_instance();
    std::printf("kernel park test: ok\n");
    return 0;
}
