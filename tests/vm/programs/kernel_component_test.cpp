// Components by name (since ABI 5): MILK_IOC_COMPONENT_INFO describes what the
// module was built with and counts the messages it accepts, settings reach
// the component's try_create, hostile names and settings are refused, a
// channel fd opened by one process is adopted by another (SCM_RIGHTS), as
// milkd hands kernel channels to its clients, and MILK_IOC_LIST_CHANNELS
// lists an instance's channels with their protocol states and counts.
#include "raw_channel.hpp"
#include "vm_check.hpp"

#include "pingpong.hpp"
#include "tally.hpp"

#include <milk/kernel.hpp>
#include <milk/state_machine.hpp>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "../../../examples/pingpong/pingpong_client.hpp"
#include "../../../examples/tally/tally_client.hpp"

namespace {

using namespace examples::pingpong;
using examples::tally::run_tally_client;
namespace Tally = examples::tally::Tally;

// Round trips per client: enough to count, few enough for TCG on a busy
// host (kernel_pingpong_test runs the example's 10000).
constexpr std::uint32_t pings = 300;

// `pings` Pings through the generated endpoints, then Bye (pings + 1
// messages): how many Pongs came back right (the number, the payload
// reversed, in the memory the Ping left from).
std::uint32_t ping(ClientIdle client) {
    std::uint32_t right = 0;
    for (std::uint32_t seq = 0; seq < pings; ++seq) {
        auto payload = client.allocate(payload_size(seq));
        MILK_VM_CHECK(payload.ok());
        std::span<std::byte> bytes = payload.value().bytes();
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern(seq, i);
        const std::byte* sent_from = bytes.data();
        auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
        MILK_VM_CHECK(waiting.ok());
        auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, ClientIdle&& next) {
            if (pong.seq == seq && holds_reversed_pattern(pong.payload.bytes(), seq) &&
                pong.payload.data() == sent_from)
                ++right;
            return std::move(next);
        });
        MILK_VM_CHECK(idle.ok());
        client = std::move(idle).value();
    }
    MILK_VM_CHECK(std::move(client).send(PingPong::Bye{}).ok());
    return right;
}

milk::kernel::ComponentInfo info_of(const char* component) {
    auto info = milk::kernel::component_info(component);
    MILK_VM_CHECK(info.ok());
    return info.value();
}

// What the module reports is what it was built with from the list.
void describes_components() {
    const milk::kernel::ComponentInfo echo = info_of("echo");
    MILK_VM_CHECK(echo.contract == "examples.pingpong.PingPong");
    // The contract's identity, as milkc computed it for both builds.
    MILK_VM_CHECK(echo.version == examples::pingpong::PingPong::Contract::version);
    MILK_VM_CHECK(echo.hosting == milk::kernel::Hosting::PerMessage);
    const milk::kernel::ComponentInfo files = info_of("files");
    MILK_VM_CHECK(files.contract == "examples.files.FileService");
    MILK_VM_CHECK(files.hosting == milk::kernel::Hosting::PerMessage);
    // Tally's server speaks first (milkc computed Thread from its states).
    const milk::kernel::ComponentInfo tally = info_of("tally");
    MILK_VM_CHECK(tally.contract == "examples.tally.Tally");
    MILK_VM_CHECK(tally.hosting == milk::kernel::Hosting::Thread);

    auto missing = milk::kernel::component_info("nosuch");
    MILK_VM_CHECK(!missing.ok() && missing.error().code == milk::ErrorCode::InvalidArgument &&
                  missing.error().detail == ENOENT);
    // On a raw fd with no channel, and with an unterminated name.
    const int fd = milk::vm::open_device();
    milk_component_info raw{};
    std::strncpy(raw.component, "echo", sizeof(raw.component) - 1);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_COMPONENT_INFO, &raw) == 0);
    MILK_VM_CHECK(std::strcmp(raw.contract, "examples.pingpong.PingPong") == 0 && raw.reserved == 0);
    std::memset(raw.component, 'e', sizeof(raw.component));
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_COMPONENT_INFO, &raw), EINVAL);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_COMPONENT_INFO, reinterpret_cast<void*>(8)), EFAULT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_CHANNEL_INFO, &raw), ENODEV);
    MILK_VM_CHECK(::close(fd) == 0);
    std::printf("component info: echo and files per message, tally thread-only, unknown ENOENT\n");
}

// The module's own count rises by exactly the messages the client sent:
// `pings` Pings and a Bye. So the echo really ran in the kernel.
void counts_messages() {
    const milk::kernel::ComponentInfo before = info_of("echo");
    auto end = milk::kernel::open_channel<PingPong::Contract>("echo");
    MILK_VM_CHECK(end.ok());
    MILK_VM_CHECK(info_of("echo").channels == before.channels + 1);
    MILK_VM_CHECK(ping(PingPong::Contract::client(std::move(end).value())) == pings);
    const milk::kernel::ComponentInfo after = info_of("echo");
    std::printf("echo: %llu messages counted by milk.ko for %u sent\n",
                static_cast<unsigned long long>(after.messages - before.messages), pings + 1);
    MILK_VM_CHECK(after.messages == before.messages + pings + 1);
    // The channel went with the client's end: its fd closed, its region unmapped.
    MILK_VM_CHECK(after.channels == before.channels);
}

// Settings reach try_create in the kernel as in user space: tally announces
// the limit it was given, and refuses one out of range.
void settings_reach_the_component() {
    milk::kernel::Options options;
    MILK_VM_CHECK(options.settings.set("limit", 7).ok());
    auto end = milk::kernel::open_channel<Tally::Contract>("tally", options);
    MILK_VM_CHECK(end.ok());
    auto report = run_tally_client(Tally::Contract::client(std::move(end).value()));
    MILK_VM_CHECK(report.ok());
    MILK_VM_CHECK(report.value().limit == 7 && report.value().wrong == 0);

    milk::kernel::Options refused;
    MILK_VM_CHECK(refused.settings.set("limit", 0).ok());
    auto bad = milk::kernel::open_channel<Tally::Contract>("tally", refused);
    MILK_VM_CHECK(!bad.ok() && bad.error().detail == EINVAL);
    std::printf("settings: tally announced limit 7, refused limit 0 (EINVAL)\n");
}

milk_channel_open echo_request() {
    milk_channel_open request{};
    std::strncpy(request.component, "echo", sizeof(request.component) - 1);
    std::strncpy(request.contract, "examples.pingpong.PingPong", sizeof(request.contract) - 1);
    request.version = milk::vm::served_version("echo");
    request.ring_capacity = 8;
    request.pool_bytes = 64 * 1024;
    return request;
}

// Hostile opens: each is refused with its errno and leaves the fd usable.
void hostile_opens() {
    const int fd = milk::vm::open_device();
    milk_channel_open request = echo_request();
    std::strncpy(request.component, "nosuch", sizeof(request.component) - 1);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), ENOENT);

    // A component that serves another contract than the client speaks.
    request = echo_request();
    std::memset(request.contract, 0, sizeof(request.contract));
    std::strncpy(request.contract, "examples.files.FileService", sizeof(request.contract) - 1);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EPROTONOSUPPORT);
    request = echo_request();
    request.version = 2;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EPROTONOSUPPORT);

    // Unterminated names.
    request = echo_request();
    std::memset(request.component, 'e', sizeof(request.component));
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    request = echo_request();
    std::memset(request.contract, 'x', sizeof(request.contract));
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);

    // Settings: more than 8, a name with a byte outside [a-z0-9_], an empty
    // name, an unterminated one, a name twice, the reserved field set.
    request = echo_request();
    request.settings.count = MILK_SETTINGS_MAX + 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    request.settings.count = 0xffffffffu;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    for (const char* name : {"Limit", "li mit", "limit-1", "l\xffimit", ""}) {
        request = echo_request();
        request.settings.count = 1;
        std::strncpy(request.settings.entries[0].name, name, MILK_SETTING_NAME_MAX - 1);
        MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    }
    request = echo_request();
    request.settings.count = 1;
    std::memset(request.settings.entries[0].name, 'a', MILK_SETTING_NAME_MAX);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    request = echo_request();
    request.settings.count = 2;
    std::strcpy(request.settings.entries[0].name, "limit");
    std::strcpy(request.settings.entries[1].name, "limit");
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);
    request = echo_request();
    request.settings.reserved = 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request), EINVAL);

    // After all that the fd has no channel, and a good open works on it:
    // eight good settings, entries past `count` ignored whatever they hold.
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_KICK, 0), ENODEV);
    request = echo_request();
    request.settings.count = MILK_SETTINGS_MAX;
    for (unsigned i = 0; i < MILK_SETTINGS_MAX; ++i)
        std::snprintf(request.settings.entries[i].name, MILK_SETTING_NAME_MAX, "setting_%u", i);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &request) == 0);
    milk_channel_info info{};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_CHANNEL_INFO, &info) == 0);
    MILK_VM_CHECK(std::strcmp(info.component, "echo") == 0 && info.ring_capacity == 8 &&
                  info.pool_bytes == 64 * 1024 && info.region_bytes == request.region_bytes &&
                  info.heap_offset == request.heap_offset && info.flags == 0);
    MILK_VM_CHECK(::close(fd) == 0);
    std::printf("hostile opens refused: unknown component, wrong contract and version, bad names and settings\n");
}

void send_fd(int socket, int fd) {
    char byte = 'm';
    iovec data{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    MILK_VM_CHECK(::sendmsg(socket, &message, 0) == 1);
}

int receive_fd(int socket) {
    char byte = 0;
    iovec data{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    MILK_VM_CHECK(::recvmsg(socket, &message, MSG_CMSG_CLOEXEC) == 1);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    MILK_VM_CHECK(header != nullptr && header->cmsg_type == SCM_RIGHTS);
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
    return fd;
}

// One process opens (as milkd does), another adopts and talks.
void adopted_by_another_process(milk::kernel::Serving serving, const char* how) {
    int sockets[2];
    MILK_VM_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
    const milk::kernel::ComponentInfo before = info_of("echo");
    const pid_t child = ::fork();
    MILK_VM_CHECK(child >= 0);
    if (child == 0) {
        ::close(sockets[0]);
        auto end = milk::kernel::adopt_channel(receive_fd(sockets[1]));
        if (!end.ok()) {
            std::printf("adopt_channel failed: %s (%lld)\n", milk::describe(end.error().code),
                        static_cast<long long>(end.error().detail));
            ::_exit(1);
        }
        ::_exit(ping(PingPong::Contract::client(std::move(end).value())) == pings ? 0 : 2);
    }
    ::close(sockets[1]);
    milk::kernel::Options options;
    options.serving = serving;
    auto fd = milk::kernel::open_channel_fd("echo", PingPong::Contract::name, PingPong::Contract::version, options);
    MILK_VM_CHECK(fd.ok());
    send_fd(sockets[0], fd.value());
    // The opener keeps nothing: the child's fd is the channel's only one.
    MILK_VM_CHECK(::close(fd.value()) == 0);
    int status = 0;
    MILK_VM_CHECK(::waitpid(child, &status, 0) == child);
    MILK_VM_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ::close(sockets[0]);
    const milk::kernel::ComponentInfo after = info_of("echo");
    MILK_VM_CHECK(after.messages == before.messages + pings + 1);
    MILK_VM_CHECK(after.channels == before.channels);
    std::printf("%s: a channel opened here, adopted by a child (SCM_RIGHTS), %u round trips\n", how, pings);
}

std::vector<milk::kernel::ChannelEntry> channels_of(const char* component, const char* instance) {
    auto listed = milk::kernel::list_channels(component, instance);
    MILK_VM_CHECK(listed.ok());
    return std::move(listed).value();
}

// What milkctl shows for a kernel instance: its channels, each with the
// protocol state the kernel tracks and its messages both ways.
void lists_channels() {
    constexpr auto echo_machine = milk::session::state_machine<PingPong::protocol>();
    constexpr auto tally_machine = milk::session::state_machine<Tally::protocol>();
    MILK_VM_CHECK(channels_of("echo", "echo-a").empty());

    milk::kernel::Options options;
    options.instance = "echo-a";
    auto end = milk::kernel::open_channel<PingPong::Contract>("echo", options);
    MILK_VM_CHECK(end.ok());
    // Another channel of the same component, of no instance.
    auto other = milk::kernel::open_channel<PingPong::Contract>("echo");
    MILK_VM_CHECK(other.ok());
    std::vector<milk::kernel::ChannelEntry> listed = channels_of("echo", "echo-a");
    MILK_VM_CHECK(listed.size() == 1);
    MILK_VM_CHECK(listed[0].instance == "echo-a" && listed[0].pid == ::getpid() && !listed[0].closed &&
                  listed[0].serving == milk::kernel::Serving::InKick && listed[0].received == 0 && listed[0].sent == 0);
    MILK_VM_CHECK(std::string(echo_machine.name(static_cast<std::uint16_t>(listed[0].state))) == "Idle");
    const std::uint64_t id = listed[0].id;
    MILK_VM_CHECK(channels_of("echo", "").size() >= 2);
    MILK_VM_CHECK(channels_of("echo", "nosuch").empty());
    MILK_VM_CHECK(channels_of("files", "echo-a").empty());

    // Five round trips: five in, five out, back in Idle.
    ClientIdle client = PingPong::Contract::client(std::move(end).value());
    for (std::uint32_t seq = 0; seq < 5; ++seq) {
        auto payload = client.allocate(8);
        MILK_VM_CHECK(payload.ok());
        auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
        MILK_VM_CHECK(waiting.ok());
        auto idle = std::move(waiting).value().receive(
            [](PingPong::Pong&&, ClientIdle&& next) { return std::move(next); });
        MILK_VM_CHECK(idle.ok());
        client = std::move(idle).value();
    }
    listed = channels_of("echo", "echo-a");
    MILK_VM_CHECK(listed.size() == 1 && listed[0].id == id && listed[0].received == 5 && listed[0].sent == 5);
    MILK_VM_CHECK(std::string(echo_machine.name(static_cast<std::uint16_t>(listed[0].state))) == "Idle");
    // Bye ends the protocol, and the client's end goes with it: its file
    // closed, the channel leaves the list.
    MILK_VM_CHECK(std::move(client).send(PingPong::Bye{}).ok());
    MILK_VM_CHECK(channels_of("echo", "echo-a").empty());

    // A thread-hosted tally: its Ready is counted as sent, and the kernel
    // follows it into Adding.
    milk::kernel::Options tally_options;
    tally_options.instance = "tally-b";
    auto tally = milk::kernel::open_channel<Tally::Contract>("tally", tally_options);
    MILK_VM_CHECK(tally.ok());
    for (int i = 0; i < 2000 && (listed = channels_of("tally", "tally-b"), listed.size() == 1 && listed[0].sent == 0); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    MILK_VM_CHECK(listed.size() == 1 && listed[0].sent == 1 && listed[0].received == 0 &&
                  listed[0].serving == milk::kernel::Serving::Thread);
    MILK_VM_CHECK(std::string(tally_machine.name(static_cast<std::uint16_t>(listed[0].state))) == "Adding");

    // Raw: bounds, names, addresses.
    const int fd = milk::vm::open_device();
    milk_channel_list request{};
    std::strncpy(request.component, "tally", sizeof(request.component) - 1);
    std::strncpy(request.instance, "tally-b", sizeof(request.instance) - 1);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_LIST_CHANNELS, &request) == 0);
    MILK_VM_CHECK(request.count == 1);  // capacity 0: counted, nothing written
    request.capacity = 1;
    request.entries = 8;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_LIST_CHANNELS, &request), EFAULT);
    request.capacity = MILK_LIST_CHANNELS_MAX + 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_LIST_CHANNELS, &request), EINVAL);
    request.capacity = 0;
    std::memset(request.instance, 'i', sizeof(request.instance));
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_LIST_CHANNELS, &request), EINVAL);
    std::memset(request.instance, 0, sizeof(request.instance));
    std::strncpy(request.component, "nosuch", sizeof(request.component) - 1);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_LIST_CHANNELS, &request), ENOENT);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_LIST_CHANNELS, reinterpret_cast<void*>(8)), EFAULT);
    // Instance names in an open: [a-z0-9_-] only, terminated.
    for (const char* name : {"Echo", "echo a", "echo/a", "\xff"}) {
        milk_channel_open open = echo_request();
        std::strncpy(open.instance, name, sizeof(open.instance) - 1);
        MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &open), EINVAL);
    }
    milk_channel_open open = echo_request();
    std::memset(open.instance, 'a', sizeof(open.instance));
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &open), EINVAL);
    MILK_VM_CHECK(::close(fd) == 0);

    // Closed files leave the list.
    { auto gone = std::move(tally).value(); }
    MILK_VM_CHECK(channels_of("tally", "tally-b").empty());
    const std::size_t echoes = channels_of("echo", "").size();
    { auto gone = std::move(other).value(); }
    MILK_VM_CHECK(channels_of("echo", "").size() == echoes - 1);
    std::printf("list channels: an instance's channels with pid, state (Idle, Adding) and counts both ways\n");
}

}  // namespace

int main() {
    describes_components();
    counts_messages();
    settings_reach_the_component();
    hostile_opens();
    adopted_by_another_process(milk::kernel::Serving::InKick, "in the kick");
    adopted_by_another_process(milk::kernel::Serving::Thread, "in a sleeping kernel thread");
    lists_channels();
    return 0;
}
