// Hostile clients of the kernel's components: each writes what an honest
// client never would, and each must end with the channel closed, the reason
// in the status block, in MILK_IOC_CHANNEL_ERROR and in errno (EPROTO, then
// EPIPE), poll() reporting the close, and no oops. Forged buffer returns are
// the exception: they are ignored, and the channel keeps working. Whether
// anything leaked is checked when the module unloads.
#include "files.kstub.h"
#include "pingpong.kstub.h"
#include "raw_channel.hpp"

#include <cstdio>
#include <cstring>

namespace {

using milk::ErrorCode;
using milk::Slot;
using milk::WireBytes;
using milk::vm::RawChannel;

constexpr const char* pingpong = "examples.pingpong.PingPong";
constexpr std::uint32_t pool = 64 * 1024;

Slot message(std::uint16_t tag, std::uint32_t seq = 0, WireBytes payload = {0, 0}) {
    examples_pingpong_PingPong encoded{};
    encoded.tag = tag;
    encoded.length = static_cast<milk_ku16>(examples_pingpong_PingPong_payload_size(tag));
    if (tag == examples_pingpong_PingPong_tag_Ping) {
        encoded.body.Ping.seq = seq;
        encoded.body.Ping.payload = {payload.offset, payload.length};
    }
    Slot slot;
    std::memcpy(static_cast<void*>(&slot), &encoded, sizeof(slot));
    return slot;
}

// The channel must be closed by the kernel for `reason`, with the
// validator's `kstub_code` (0: not a validator verdict).
void expect_closed(RawChannel& channel, ErrorCode reason, int kstub_code, const char* what,
                   const char* contract = pingpong) {
    const milk_channel_error record = milk::vm::channel_error(channel);
    std::printf("%-34s -> %s\n", what, record.text);
    MILK_VM_CHECK(record.closed == 1);
    MILK_VM_CHECK(record.reason == static_cast<std::uint32_t>(reason));
    MILK_VM_CHECK(record.kstub_code == kstub_code);
    MILK_VM_CHECK(std::strstr(record.text, contract) == record.text);
    milk::SideStatus& status = channel.kernel_status();
    MILK_VM_CHECK(status.closed == 1);
    MILK_VM_CHECK(status.reason == static_cast<std::uint32_t>(reason));
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPIPE);
    MILK_VM_CHECK((milk::vm::poll_bits(channel.fd) & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
}

// One bad slot on a fresh channel: the kick that finds it fails with EPROTO.
void one_bad_slot(const Slot& slot, ErrorCode reason, int kstub_code, const char* what) {
    RawChannel channel = milk::vm::open_raw(pingpong, 8, pool);
    channel.put(slot);
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    expect_closed(channel, reason, kstub_code, what);
    milk::vm::close_raw(channel);
}

// An honest round trip on a raw channel: Ping `seq`, get Pong `seq`, send
// its buffer home.
void round_trip(RawChannel& channel, std::uint32_t seq) {
    channel.put(message(examples_pingpong_PingPong_tag_Ping, seq));
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 1);
    Slot reply;
    MILK_VM_CHECK(channel.take(reply));
    examples_pingpong_PingPong pong;
    std::memcpy(&pong, &reply, sizeof(pong));
    MILK_VM_CHECK(pong.tag == examples_pingpong_PingPong_tag_Pong && pong.body.Pong.seq == seq);
    channel.give_back({pong.body.Pong.payload.offset, pong.body.Pong.payload.length});
}

void garbage_and_wrong_state() {
    one_bad_slot(message(0), ErrorCode::ProtocolViolation, MILK_KV_BAD_TAG, "tag 0");
    one_bad_slot(message(99), ErrorCode::ProtocolViolation, MILK_KV_BAD_TAG, "tag 99");
    // Pong is the server's message: the client may never send it.
    one_bad_slot(message(examples_pingpong_PingPong_tag_Pong), ErrorCode::ProtocolViolation,
                 MILK_KV_TAG_NOT_ALLOWED, "Pong from the client in Idle");
    Slot short_ping = message(examples_pingpong_PingPong_tag_Ping, 1);
    short_ping.length = 4;
    one_bad_slot(short_ping, ErrorCode::ProtocolViolation, MILK_KV_BAD_LENGTH, "Ping with length 4");
    Slot flagged = message(examples_pingpong_PingPong_tag_Ping, 1);
    flagged.flags = 1;
    one_bad_slot(flagged, ErrorCode::ProtocolViolation, MILK_KV_BAD_FLAGS, "Ping with flags 1");

    // After Bye the protocol is at `end`: nothing may follow, even a Ping
    // that would be fine in Idle. Both arrive in one kick.
    RawChannel channel = milk::vm::open_raw(pingpong, 8, pool);
    round_trip(channel, 1);
    channel.put(message(examples_pingpong_PingPong_tag_Bye));
    channel.put(message(examples_pingpong_PingPong_tag_Ping, 2));
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    expect_closed(channel, ErrorCode::ProtocolViolation, MILK_KV_ENDED, "Ping after Bye");
    milk::vm::close_raw(channel);
}

void bad_handles() {
    const struct {
        WireBytes handle;
        const char* what;
    } cases[] = {
        {{0, pool + 1}, "handle longer than the pool"},
        {{pool - 8, 16}, "handle across the pools' border"},
        {{2 * pool - 8, 16}, "handle across the heap's end"},
        {{0xFFFFFFF0u, 0x20}, "handle wrapping around 2^32"},
        {{3 * pool, 8}, "handle past the heap"},
        // The kernel's own pool, a block it never lent.
        {{pool + 64, 8}, "handle into the kernel's pool"},
    };
    for (const auto& bad : cases)
        one_bad_slot(message(examples_pingpong_PingPong_tag_Ping, 7, bad.handle), ErrorCode::BadBuffer,
                     MILK_KV_BAD_HANDLE, bad.what);

}

void corrupt_rings() {
    {
        RawChannel channel = milk::vm::open_raw(pingpong, 8, pool);
        std::atomic_ref<std::uint32_t>(channel.to_kernel()->producer_index).store(13, std::memory_order_release);
        MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
        expect_closed(channel, ErrorCode::CorruptRing, 0, "producer index 13 on 8 slots");
        milk::vm::close_raw(channel);
    }
    {
        // The reply ring's consumer index moved out of the window. The
        // kernel reads it only when its cached copy says the ring is full,
        // so eight more Pings (one ring's worth) make it look.
        RawChannel channel = milk::vm::open_raw(pingpong, 8, pool);
        round_trip(channel, 1);
        std::atomic_ref<std::uint32_t>(channel.from_kernel()->consumer_index).store(0x80000000u);
        for (std::uint32_t seq = 2; seq < 10; ++seq) channel.put(message(examples_pingpong_PingPong_tag_Ping, seq));
        MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
        expect_closed(channel, ErrorCode::CorruptRing, 0, "reply ring consumer index corrupt");
        milk::vm::close_raw(channel);
    }
    {
        // Forged returns (not a block the kernel lent, repeated, misaligned,
        // outside its pool) are ignored: the channel goes on working.
        RawChannel channel = milk::vm::open_raw(pingpong, 8, pool);
        round_trip(channel, 1);
        const WireBytes forged[] = {{0, 64}, {pool, 64}, {pool + 1, 1}, {pool + 4096, 64}, {0xFFFFFFFFu, 1}, {3 * pool, 0}};
        for (const WireBytes& entry : forged) channel.give_back(entry);
        for (std::uint32_t seq = 2; seq < 200; ++seq) round_trip(channel, seq);
        MILK_VM_CHECK(channel.kernel_status().closed == 0);
        std::printf("%-34s -> ignored; 198 more round trips fine\n", "forged buffer returns");
        // A return ring whose producer index jumps past the window.
        std::atomic_ref<std::uint32_t>(channel.returns_to_kernel()->producer_index).store(channel.returned + 5000);
        MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
        expect_closed(channel, ErrorCode::CorruptRing, 0, "return ring producer index corrupt");
        milk::vm::close_raw(channel);
    }
}

void served_by_thread() {
    // The same checks when a kernel thread serves the channel: the thread
    // finds the bad slot (by polling, or after a kick that only wakes it),
    // closes the channel, and wakes the poller.
    RawChannel channel = milk::vm::open_raw(pingpong, 8, pool, true, MILK_CHANNEL_POLLING_THREAD);
    Slot bad = message(examples_pingpong_PingPong_tag_Ping, 1);
    bad.tag = 0;
    channel.put(bad);
    // The thread may be awake and find the slot before the kick: then the
    // kick already sees the channel closed.
    errno = 0;
    const long kicked = ::ioctl(channel.fd, MILK_IOC_KICK, 0);
    MILK_VM_CHECK(kicked == 0 || (kicked == -1 && errno == EPIPE));
    pollfd waiting{channel.fd, POLLIN, 0};
    MILK_VM_CHECK(::poll(&waiting, 1, -1) == 1);
    MILK_VM_CHECK((waiting.revents & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
    expect_closed(channel, ErrorCode::ProtocolViolation, MILK_KV_BAD_TAG, "tag 0, served by a kernel thread");
    milk::vm::close_raw(channel);
}

// A FileService message from the client, encoded with the stub's struct.
Slot file_message(std::uint16_t tag, const examples_files_FileService& body_source) {
    examples_files_FileService encoded = body_source;
    encoded.tag = tag;
    encoded.length = static_cast<milk_ku16>(examples_files_FileService_payload_size(tag));
    encoded.flags = 0;
    Slot slot;
    std::memcpy(static_cast<void*>(&slot), &encoded, sizeof(slot));
    return slot;
}

// One request, its one reply.
examples_files_FileService file_round_trip(RawChannel& channel, const Slot& request) {
    channel.put(request);
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 1);
    Slot reply;
    MILK_VM_CHECK(channel.take(reply));
    examples_files_FileService decoded;
    std::memcpy(&decoded, &reply, sizeof(decoded));
    if (decoded.tag == examples_files_FileService_tag_Data)
        channel.give_back({decoded.body.Data.data.offset, decoded.body.Data.data.length});
    return decoded;
}

void file_server_extremes() {
    // The file server's arithmetic against extreme but valid requests: each
    // gets the example's answer, and the channel stays open.
    RawChannel channel = milk::vm::open_raw("examples.files.FileService", 8, pool);
    auto* heap = channel.base + channel.layout.heap_offset;
    std::memcpy(heap, "/motd", 5);
    examples_files_FileService request{};
    request.body.Open.path = {0, 5};
    auto reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Open, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Opened);
    const milk_ku32 handle = reply.body.Opened.handle;

    request = {};
    request.body.Read = {handle, ~std::uint64_t{0}, ~std::uint32_t{0}};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Read, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Eof);

    request.body.Read = {handle, 3, ~std::uint32_t{0}};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Read, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Data && reply.body.Data.data.length == 24);

    request = {};
    request.body.Write = {handle, ~std::uint64_t{0} - 3, {64, 8}};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Write, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Failed &&
                  reply.body.Failed.error == examples_files_FileError_out_of_range);

    // A write of the whole pool at the end of the file: past 64 KiB.
    request.body.Write = {handle, 27, {0, pool}};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Write, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Failed &&
                  reply.body.Failed.error == examples_files_FileError_no_space);

    // A path as long as the pool, and an empty one.
    request = {};
    request.body.Open.path = {0, pool};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Open, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Failed &&
                  reply.body.Failed.error == examples_files_FileError_not_found);
    request.body.Open.path = {0, 0};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Open, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Failed);

    request = {};
    request.body.Close.handle = ~milk_ku32{0};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Close, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Failed &&
                  reply.body.Failed.error == examples_files_FileError_bad_handle);
    MILK_VM_CHECK(channel.kernel_status().closed == 0);
    std::printf("%-34s -> every answer as the example's server gives it\n", "file server, extreme requests");

    // The server's own message from the client.
    request = {};
    request.body.Opened.handle = 1;
    channel.put(file_message(examples_files_FileService_tag_Opened, request));
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    const milk_channel_error record = milk::vm::channel_error(channel);
    std::printf("%-34s -> %s\n", "Opened from the client", record.text);
    MILK_VM_CHECK(record.kstub_code == MILK_KV_TAG_NOT_ALLOWED);
    MILK_VM_CHECK(std::strstr(record.text, "examples.files.FileService") == record.text);
    milk::vm::close_raw(channel);
}

// Hand-backs, as the runtime allows them: a buffer the kernel really lent
// (a Data reply's) may come back in a request, once; the kernel holds it
// again, and the file server frees it after copying the write. Sending it
// again (the kernel no longer lent it), longer than its block, or returning
// it on the return ring after the hand-back is refused or ignored.
void hand_backs() {
    RawChannel channel = milk::vm::open_raw("examples.files.FileService", 8, pool);
    auto* heap = channel.base + channel.layout.heap_offset;
    std::memcpy(heap, "/motd", 5);
    examples_files_FileService request{};
    request.body.Open.path = {0, 5};
    auto reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Open, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Opened);
    const milk_ku32 handle = reply.body.Opened.handle;

    // A Read's Data, kept (not given back): lent by the kernel.
    request = {};
    request.body.Read = {handle, 0, 64};
    channel.put(file_message(examples_files_FileService_tag_Read, request));
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 1);
    Slot raw;
    MILK_VM_CHECK(channel.take(raw));
    std::memcpy(&reply, &raw, sizeof(reply));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Data);
    const WireBytes lent{reply.body.Data.data.offset, reply.body.Data.data.length};
    MILK_VM_CHECK(lent.offset >= pool && lent.length > 0 && lent.length <= 64);

    // Handed back in a Write: the server copies it and frees the block.
    request = {};
    request.body.Write = {handle, 0, {lent.offset, lent.length}};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Write, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Written && reply.body.Written.count == lent.length);
    channel.give_back(lent);  // no longer lent: ignored
    std::printf("%-34s -> written, then freed by the kernel\n", "the kernel's own buffer handed back");
    channel.put(file_message(examples_files_FileService_tag_Write, request));
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    expect_closed(channel, ErrorCode::BadBuffer, MILK_KV_BAD_HANDLE, "a handed-back buffer sent again",
                  "examples.files.FileService");
    milk::vm::close_raw(channel);

    channel = milk::vm::open_raw("examples.files.FileService", 8, pool);
    heap = channel.base + channel.layout.heap_offset;
    std::memcpy(heap, "/motd", 5);
    request = {};
    request.body.Open.path = {0, 5};
    reply = file_round_trip(channel, file_message(examples_files_FileService_tag_Open, request));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Opened);
    request = {};
    request.body.Read = {reply.body.Opened.handle, 0, 64};
    channel.put(file_message(examples_files_FileService_tag_Read, request));
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 1);
    MILK_VM_CHECK(channel.take(raw));
    std::memcpy(&reply, &raw, sizeof(reply));
    MILK_VM_CHECK(reply.tag == examples_files_FileService_tag_Data);
    // One unit (64 bytes) was allocated for the Data: 65 is past its block.
    request = {};
    request.body.Write = {1, 0, {reply.body.Data.data.offset, 65}};
    channel.put(file_message(examples_files_FileService_tag_Write, request));
    MILK_VM_CHECK_ERRNO(::ioctl(channel.fd, MILK_IOC_KICK, 0), EPROTO);
    expect_closed(channel, ErrorCode::BadBuffer, MILK_KV_BAD_HANDLE, "a handed-back buffer made longer",
                  "examples.files.FileService");
    milk::vm::close_raw(channel);
}

// The echo (the example's own server code, run in the kernel) answers a
// Ping with the Ping's own buffer, reversed in place, as in user space.
void echo_in_place() {
    RawChannel channel = milk::vm::open_raw(pingpong, 8, pool);
    auto* heap = channel.base + channel.layout.heap_offset;
    for (std::uint32_t i = 0; i < 64; ++i) heap[128 + i] = static_cast<std::byte>(i);
    channel.put(message(examples_pingpong_PingPong_tag_Ping, 1, {128, 64}));
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_KICK, 0) == 1);
    Slot reply;
    MILK_VM_CHECK(channel.take(reply));
    examples_pingpong_PingPong pong;
    std::memcpy(&pong, &reply, sizeof(pong));
    MILK_VM_CHECK(pong.tag == examples_pingpong_PingPong_tag_Pong && pong.body.Pong.seq == 1);
    MILK_VM_CHECK(pong.body.Pong.payload.offset == 128 && pong.body.Pong.payload.length == 64);
    for (std::uint32_t i = 0; i < 64; ++i) MILK_VM_CHECK(heap[128 + i] == static_cast<std::byte>(63 - i));
    MILK_VM_CHECK(channel.kernel_status().closed == 0);
    std::printf("%-34s -> the same block back, reversed\n", "echo in place");
    milk::vm::close_raw(channel);
}

}  // namespace

int main() {
    garbage_and_wrong_state();
    bad_handles();
    hand_backs();
    echo_in_place();
    corrupt_rings();
    served_by_thread();
    file_server_extremes();
    std::printf("every hostile message closed its channel with the right reason\n");
    return 0;
}
