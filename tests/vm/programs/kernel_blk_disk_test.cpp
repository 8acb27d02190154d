// milk::blk::KernelDisk in the VM (docs/blk.md): /dev/milkblkN served by
// the block service wherever the host's config places it.
//
//   * placement `process` (the service in a milk-runner of its own, the
//     disk's requests through this process's agent and the channel, the
//     data in the exchange heap) and placement `kernel` (the module calls
//     it): mkfs.ext4, files written, unmounted, mounted again uncached,
//     every checksum equal, e2fsck -fn clean;
//   * the service's process killed while a writer is busy: with
//     Recovery::Fail every request fails with EIO within the bound, the
//     kernel does not hang; with Recovery::Replay and `restart =
//     on-failure` the host starts it again and the requests in flight are
//     sent again (a RAM service starts empty: what it held is gone);
//   * the same with blk_file under ext4 (killed_replay_file): nothing is
//     lost, e2fsck is clean after the restart and on the file itself;
//   * an agent that never answers: its requests fail after the disk's
//     deadline; a hostile agent's answers (a cookie of no request, data
//     for a read, a status beyond 4095, an unwritable buffer) are refused
//     one by one, and the request whose read could not be copied fails.
//
// Needs /host/milk-runner (--file), mkfs.ext4 and e2fsck (--tool) and
// ext4 (--kmod).
#include "vm_check.hpp"
#include "vm_disk_host.hpp"
#include "vm_fs.hpp"

#include "blk/blk_file_component.hpp"

#include <milk/blk/kernel_disk.hpp>
#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>

#include <linux/fs.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using milk::vm::drop_caches;
using milk::vm::fnv;
using milk::vm::pattern;
using milk::vm::run;

using milk::blk::KernelDisk;
using milk::blk::KernelDiskOptions;
using milk::blk::Recovery;
using Clock = std::chrono::steady_clock;

// The service: blk_ram, or blk_file over `file` when one is given.
milk::host::Host make_host(milk::Placement placement, milk::host::RestartPolicy restart = milk::host::RestartPolicy::Never,
                           const char* file = nullptr) {
    auto host = milk::vm::make_disk_host("kernel_blk_disk_test", {placement, restart, file});
    if (!host.ok()) std::fprintf(stderr, "host: %s (%" PRId64 ")\n", host.error().what, host.error().detail);
    MILK_VM_CHECK(host.ok());
    return std::move(host).value();
}

std::unique_ptr<KernelDisk> make_disk(milk::host::Host& host, const KernelDiskOptions& options = {}) {
    auto disk = KernelDisk::try_create(host, "disk", options);
    if (!disk.ok()) std::fprintf(stderr, "disk: %s (%" PRId64 ")\n", disk.error().what, disk.error().detail);
    MILK_VM_CHECK(disk.ok());
    return std::move(disk).value();
}

// ext4 on the disk, filled, checked uncached, e2fsck clean.
void file_system(const std::string& path, const char* placement) {
    constexpr int files = 16;
    const std::uint64_t total = milk::vm::ext4_round_trip(path, files, 10, 200);
    std::printf("placement %s: %s, mkfs.ext4, %d files (%" PRIu64 " bytes), mounted again uncached, every checksum "
                "equal, e2fsck -fn clean\n",
                placement, path.c_str(), files, total);
}

void placed(milk::Placement placement, const char* name) {
    milk::host::Host host = make_host(placement);
    auto disk = make_disk(host);
    MILK_VM_CHECK(disk->service_in_kernel() == (placement == milk::Placement::Kernel));
    MILK_VM_CHECK(disk->blocks() == 8192 && disk->block_size() == 4096);
    {
        // A write, a flush, a discard and a read through the disk before
        // the file system: each answered.
        const int fd = ::open(disk->path().c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
        MILK_VM_CHECK(fd >= 0);
        auto* buffer = static_cast<std::byte*>(std::aligned_alloc(4096, 16384));
        for (std::size_t i = 0; i < 16384; ++i) buffer[i] = pattern(3, i);
        const bool wrote = ::pwrite(fd, buffer, 16384, 4096 * 10) == 16384;
        const bool synced = ::fsync(fd) == 0;
        const std::uint64_t range[2] = {4096 * 100, 4096 * 4};
        const bool discarded = ::ioctl(fd, BLKDISCARD, range) == 0;
        std::memset(buffer, 0, 16384);
        const bool read = ::pread(fd, buffer, 16384, 4096 * 10) == 16384;
        bool same = read;
        for (std::size_t i = 0; same && i < 16384; ++i) same = buffer[i] == pattern(3, i);
        const auto stats = disk->stats();
        if (!(wrote && synced && discarded && same))
            std::fprintf(stderr, "write %d flush %d discard %d read %d same %d; errors %" PRIu64 ", service error: %s\n", wrote,
                         synced, discarded, read, same, stats.errors,
                         stats.service_error ? stats.service_error->what : "none");
        MILK_VM_CHECK(wrote && synced && discarded && same);
        ::close(fd);
        std::free(buffer);
    }
    if (placement == milk::Placement::Kernel) {
        // blk_file over a block device node (this very disk): refused when
        // the device is smaller than `blocks`, taken when it fits.
        milk::Settings too_big;
        MILK_VM_CHECK(too_big.set_text("path", disk->path()).ok() && too_big.set("blocks", 8193).ok());
        auto refused = components::blk::FileBlockService::try_create(too_big);
        MILK_VM_CHECK(!refused.ok() && refused.error().code == milk::ErrorCode::InvalidArgument);
        milk::Settings fits;
        MILK_VM_CHECK(fits.set_text("path", disk->path()).ok() && fits.set("blocks", 8192).ok());
        MILK_VM_CHECK(components::blk::FileBlockService::try_create(fits).ok());
    }
    file_system(disk->path(), name);
    const auto stats = disk->stats();
    MILK_VM_CHECK(stats.reads > 0 && stats.writes > 0 && stats.flushes > 0 && stats.errors == 0);
    if (placement != milk::Placement::Kernel) MILK_VM_CHECK(stats.batches > 0 && stats.failed_by_agent == 0);
    std::printf("placement %s: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " flushes, %" PRIu64 " batches to the service\n",
                name, stats.reads, stats.writes, stats.flushes, stats.batches);
}

pid_t service_pid(const milk::host::Host& host) {
    for (const auto& status : host.status())
        if (status.name == "disk") return status.pid;
    return 0;
}

// A writer busy on the disk when the service's process is killed: how its
// writes end, and how long after the kill the last one took.
struct Outcome {
    std::uint64_t ok_before = 0;
    std::uint64_t ok_after = 0;
    std::uint64_t failed = 0;
    double last_ms = 0;
};

Outcome kill_under_writes(milk::host::Host& host, const std::string& path, std::chrono::milliseconds after_kill) {
    const int fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    auto* buffer = static_cast<std::byte*>(std::aligned_alloc(4096, 65536));
    for (std::size_t i = 0; i < 65536; ++i) buffer[i] = pattern(7, i);
    std::atomic<bool> killed{false};
    std::atomic<bool> stop{false};
    Outcome outcome;
    Clock::time_point killed_at{};
    std::thread writer([&] {
        std::uint64_t at = 0;
        while (!stop.load()) {
            const ssize_t wrote = ::pwrite(fd, buffer, 65536, static_cast<off_t>((at++ % 256) * 65536));
            const bool after = killed.load();
            if (wrote == 65536) ++(after ? outcome.ok_after : outcome.ok_before);
            else ++outcome.failed;
            if (after)
                outcome.last_ms = std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count();
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const pid_t pid = service_pid(host);
    MILK_VM_CHECK(pid > 0);
    killed_at = Clock::now();
    killed.store(true);
    MILK_VM_CHECK(::kill(pid, SIGKILL) == 0);
    std::this_thread::sleep_for(after_kill);
    stop.store(true);
    writer.join();
    ::close(fd);
    std::free(buffer);
    return outcome;
}

void killed_fail() {
    milk::host::Host host = make_host(milk::Placement::Process);
    KernelDiskOptions options;
    options.recovery = Recovery::Fail;
    options.service_timeout = std::chrono::milliseconds(1000);
    auto disk = make_disk(host, options);
    const Outcome outcome = kill_under_writes(host, disk->path(), std::chrono::milliseconds(1500));
    const auto stats = disk->stats();
    // Writes went through before the kill, fail after it, and none hung:
    // the writer's last write ended within the bound.
    MILK_VM_CHECK(outcome.ok_before > 0 && outcome.failed > 0);
    MILK_VM_CHECK(stats.service_error.has_value() && stats.errors > 0);
    std::printf("service killed, recovery fail: %" PRIu64 " writes before, then %" PRIu64 " failed with EIO (%" PRIu64
                " ok after), the agent failed %" PRIu64 " it held (%s); the last write ended %.0f ms after the kill\n",
                outcome.ok_before, outcome.failed, outcome.ok_after, stats.failed_by_agent, stats.service_error->what,
                outcome.last_ms);
}

void killed_replay() {
    milk::host::Host host = make_host(milk::Placement::Process, milk::host::RestartPolicy::OnFailure);
    KernelDiskOptions options;
    options.recovery = Recovery::Replay;
    options.service_timeout = std::chrono::milliseconds(1000);
    auto disk = make_disk(host, options);
    const Outcome outcome = kill_under_writes(host, disk->path(), std::chrono::milliseconds(2500));
    const auto stats = disk->stats();
    MILK_VM_CHECK(outcome.ok_before > 0 && outcome.ok_after > 0 && stats.reconnects >= 1);
    std::printf("service killed, recovery replay: %" PRIu64 " writes before, %" PRIu64 " after, %" PRIu64 " failed; "
                "%" PRIu64 " reconnect(s), %" PRIu64 " request(s) sent again\n",
                outcome.ok_before, outcome.ok_after, outcome.failed, stats.reconnects, stats.replayed);
}

// The file backend's kill test: ext4 on a disk whose blocks are in a file,
// a writer creating files (each fsynced) while the service's process is
// SIGKILLed; the host restarts it, the agent replays what was in flight,
// and nothing is lost: every write and fsync succeeds, the file system
// checks clean through the restarted service and every file completed reads
// back uncached; once the disk is gone, the file itself is a clean ext4
// image (the direct path).
void killed_replay_file() {
    const char* file = "/tmp/milk-blk-file.img";
    ::unlink(file);
    std::vector<std::uint64_t> sums;
    std::uint64_t reconnects = 0;
    std::uint64_t replayed = 0;
    std::size_t before_kill = 0;
    {
        milk::host::Host host = make_host(milk::Placement::Process, milk::host::RestartPolicy::OnFailure, file);
        KernelDiskOptions options;
        options.recovery = Recovery::Replay;
        options.service_timeout = std::chrono::milliseconds(1000);
        auto disk = make_disk(host, options);
        const std::string path = disk->path();
        MILK_VM_CHECK(run({"mkfs.ext4", "-q", "-F", path.c_str()}) == 0);
        ::mkdir("/mnt", 0755);
        ::mkdir("/mnt/fs", 0755);
        MILK_VM_CHECK(::mount(path.c_str(), "/mnt/fs", "ext4", 0, nullptr) == 0);

        std::atomic<bool> stop{false};
        std::atomic<std::size_t> completed{0};
        std::atomic<bool> failed{false};
        std::thread writer([&] {
            for (std::size_t i = 0; !stop.load() && i < 2000; ++i) {
                const std::size_t length = 4096 * (1 + i % 16) + i;
                std::vector<std::byte> data(length);
                for (std::size_t at = 0; at < length; ++at) data[at] = pattern(500 + i, at);
                const std::string name = "/mnt/fs/f" + std::to_string(i);
                const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                const bool ok = fd >= 0 && ::write(fd, data.data(), length) == static_cast<ssize_t>(length) && ::fsync(fd) == 0;
                if (fd >= 0) ::close(fd);
                if (!ok) {
                    std::fprintf(stderr, "file %zu: %s\n", i, std::strerror(errno));
                    failed.store(true);
                    return;
                }
                sums.push_back(fnv(data));
                completed.store(i + 1);
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        const pid_t pid = service_pid(host);
        MILK_VM_CHECK(pid > 0);
        before_kill = completed.load();
        MILK_VM_CHECK(::kill(pid, SIGKILL) == 0);
        // Files go on being written through the restarted service.
        const auto deadline = Clock::now() + std::chrono::seconds(20);
        while (!failed.load() && completed.load() < before_kill + 20 && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        stop.store(true);
        writer.join();
        const auto stats = disk->stats();
        reconnects = stats.reconnects;
        replayed = stats.replayed;
        if (failed.load() || stats.errors != 0)
            std::fprintf(stderr, "after the kill: %" PRIu64 " errors, %" PRIu64 " failed by the agent, service error %s\n",
                         stats.errors, stats.failed_by_agent, stats.service_error ? stats.service_error->what : "none");
        MILK_VM_CHECK(!failed.load() && stats.errors == 0);
        MILK_VM_CHECK(reconnects >= 1 && service_pid(host) != pid && service_pid(host) > 0);
        MILK_VM_CHECK(completed.load() >= before_kill + 20);

        // Unmounted, nothing cached: e2fsck and every file read come from
        // the restarted service, that is from the file.
        MILK_VM_CHECK(::umount("/mnt/fs") == 0);
        drop_caches();
        MILK_VM_CHECK(run({"e2fsck", "-f", "-n", path.c_str()}) == 0);
        MILK_VM_CHECK(::mount(path.c_str(), "/mnt/fs", "ext4", MS_RDONLY, nullptr) == 0);
        for (std::size_t i = 0; i < sums.size(); ++i)
            MILK_VM_CHECK(milk::vm::file_checksum("/mnt/fs/f" + std::to_string(i)) == sums[i]);
        MILK_VM_CHECK(::umount("/mnt/fs") == 0);
    }
    // The disk and the service are gone; the file holds the file system.
    MILK_VM_CHECK(run({"e2fsck", "-f", "-n", file}) == 0);
    ::unlink(file);
    std::printf("blk_file killed under an ext4 writer, recovery replay: %zu files before the kill, %zu in all, every write "
                "and fsync ok; %" PRIu64 " reconnect(s), %" PRIu64 " request(s) sent again; e2fsck clean through the "
                "restarted service and on the file itself, every file read back uncached\n",
                before_kill, sums.size(), reconnects, replayed);
}

// An agent's disk by hand: one that never answers, then a hostile one.
void raw_agent() {
    const int fd = milk::vm::open_device();
    milk_blk_create create{};
    create.depth = 4;
    create.deadline_ms = 300;
    create.blocks = 256;
    create.block_size = 4096;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_CREATE, &create) == 0);
    const std::string path = "/dev/milkblk" + std::to_string(create.index);
    const int disk = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    MILK_VM_CHECK(disk >= 0);
    auto* buffer = static_cast<std::byte*>(std::aligned_alloc(4096, 8192));

    // Nobody answers: the read fails after the deadline, not never.
    const auto started = Clock::now();
    errno = 0;
    MILK_VM_CHECK(::pread(disk, buffer, 4096, 0) == -1 && errno == EIO);
    const double waited_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    MILK_VM_CHECK(waited_ms >= 250 && waited_ms < 5000);
    milk_blk_stats stats{};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_STATS, &stats) == 0 && stats.timeouts >= 1);
    // Its request is gone from the queue: a WAIT now finds nothing.
    milk_blk_request seen[4]{};
    milk_blk_wait wait{reinterpret_cast<std::uintptr_t>(seen), 4, 0, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_WAIT, &wait) == 0 && wait.count == 0);

    // A hostile agent, with a reader in another thread.
    std::atomic<ssize_t> read_result{0};
    std::atomic<int> read_errno{0};
    std::thread reader([&] {
        errno = 0;
        read_result = ::pread(disk, buffer, 8192, 8192);
        read_errno = errno;
    });
    wait = milk_blk_wait{reinterpret_cast<std::uintptr_t>(seen), 4, 0, -1};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_WAIT, &wait) == 0 && wait.count == 1);
    MILK_VM_CHECK(seen[0].op == MILK_BLK_READ && seen[0].offset == 8192 && seen[0].bytes == 8192);
    milk_blk_answer answers[4] = {
        {seen[0].cookie + (1u << 16), 0, 0, 0},                           // no request has that cookie
        {seen[0].cookie, reinterpret_cast<std::uintptr_t>(buffer), 0, 0}, // DATA of a read
        {seen[0].cookie, 0, 5000, 0},                                     // a status beyond 4095
        {seen[0].cookie, 1, 0, 0},                                        // an unwritable... unreadable buffer
    };
    milk_blk_answers data{reinterpret_cast<std::uintptr_t>(&answers[1]), 1, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_DATA, &data) == 0 && data.done == 0 && answers[1].result == EINVAL);
    milk_blk_answers bad{reinterpret_cast<std::uintptr_t>(&answers[0]), 1, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_COMPLETE, &bad) == 0 && bad.done == 0 && answers[0].result == ENOENT);
    bad.answers = reinterpret_cast<std::uintptr_t>(&answers[2]);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_COMPLETE, &bad) == 0 && bad.done == 0 && answers[2].result == EINVAL);
    bad.answers = reinterpret_cast<std::uintptr_t>(&answers[3]);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_COMPLETE, &bad) == 0 && bad.done == 0 && answers[3].result == EFAULT);
    reader.join();
    MILK_VM_CHECK(read_result == -1 && read_errno == EIO);
    // The request is over: answering it again finds nothing.
    answers[3].result = 0;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_COMPLETE, &bad) == 0 && answers[3].result == ENOENT);

    // An honest answer still works: a write's data taken, then a read answered.
    for (std::size_t i = 0; i < 4096; ++i) buffer[i] = pattern(9, i);
    std::thread writer([&] { read_result = ::pwrite(disk, buffer, 4096, 0); });
    wait = milk_blk_wait{reinterpret_cast<std::uintptr_t>(seen), 4, 0, -1};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_WAIT, &wait) == 0 && wait.count == 1 && seen[0].op == MILK_BLK_WRITE);
    std::vector<std::byte> taken(4096);
    milk_blk_answer take{seen[0].cookie, reinterpret_cast<std::uintptr_t>(taken.data()), 0, 0};
    milk_blk_answers one{reinterpret_cast<std::uintptr_t>(&take), 1, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_DATA, &one) == 0 && one.done == 1);
    for (std::size_t i = 0; i < 4096; ++i) MILK_VM_CHECK(taken[i] == pattern(9, i));
    take.data = 0;
    take.result = 0;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_BLK_COMPLETE, &one) == 0 && one.done == 1);
    writer.join();
    MILK_VM_CHECK(read_result == 4096);

    milk_blk_wait too_many{reinterpret_cast<std::uintptr_t>(seen), MILK_BLK_MAX_WAIT + 1, 0, 0};
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_WAIT, &too_many), EINVAL);
    ::close(disk);
    ::close(fd);
    std::free(buffer);
    std::printf("agent that never answers: the read failed with EIO after %.0f ms (deadline 300 ms); hostile answers "
                "refused one by one (ENOENT, EINVAL, EINVAL, EFAULT), the read they spoiled failed with EIO; an honest "
                "write went through\n",
                waited_ms);
}

// A service that answers the disk's first read with a lie, then hangs up.
enum class Lie { other_tag, short_read, ok_without_blocks, early_completed };
namespace Blk = milk::blk::Blk;

std::thread rogue(milk::ChannelEnd&& end, Lie lie) {
    return std::thread([server = Blk::Contract::server(std::move(end)), lie]() mutable {
        using Greeting = Blk::Server<Blk::state::Greeting>;
        using Queued = Blk::Server<Blk::state::Queued>;
        using Serving = Blk::Server<Blk::state::Serving>;
        auto greeted = std::move(server).receive([](Blk::Hello&&, Greeting&& next) { return std::optional<Greeting>{std::move(next)}; });
        if (!greeted.ok()) return;
        auto idle = std::move(*greeted.value()).send(Blk::Welcome{8192, 4096, 4});
        if (!idle.ok()) return;
        std::uint32_t tag = 0;
        auto queued = std::move(idle).value().receive(
            [&](Blk::Read&& read, Queued&& next) {
                tag = read.tag;
                return std::optional<Queued>{std::move(next)};
            },
            [](Blk::Write&&, Queued&&) { return std::optional<Queued>{}; },
            [](Blk::Flush&&, Queued&&) { return std::optional<Queued>{}; },
            [](Blk::Discard&&, Queued&&) { return std::optional<Queued>{}; }, [](Blk::Bye&&) { return std::optional<Queued>{}; });
        if (!queued.ok() || !queued.value()) return;
        auto serving = std::move(*queued.value()).receive(
            [](Blk::Read&&, Queued&&) { return std::optional<Serving>{}; }, [](Blk::Write&&, Queued&&) { return std::optional<Serving>{}; },
            [](Blk::Flush&&, Queued&&) { return std::optional<Serving>{}; },
            [](Blk::Discard&&, Queued&&) { return std::optional<Serving>{}; },
            [](Blk::Submit&&, Serving&& next) { return std::optional<Serving>{std::move(next)}; });
        if (!serving.ok() || !serving.value()) return;
        Serving answer = std::move(*serving.value());
        switch (lie) {
        case Lie::other_tag:
        case Lie::short_read: {
            auto data = answer.allocate(lie == Lie::short_read ? 512 : 4096);
            if (!data.ok()) return;
            std::memset(data.value().data(), 0x5a, lie == Lie::short_read ? 512 : 4096);
            static_cast<void>(std::move(answer).send(Blk::ReadDone{lie == Lie::other_tag ? tag + 1 : tag, std::move(data).value()}));
            return;
        }
        case Lie::ok_without_blocks: static_cast<void>(std::move(answer).send(Blk::Done{tag, milk::blk::BlkStatus::ok})); return;
        case Lie::early_completed: static_cast<void>(std::move(answer).send(Blk::Completed{})); return;
        }
    });
}

// Each lie through the disk: the read fails with EIO, none of the lie's
// bytes reach the reader's buffer, the channel is dropped (later requests
// fail at once), and a disk beside it keeps every byte it had.
void rogue_services() {
    auto bystander = KernelDisk::try_create_in_kernel("blk_ram", milk::Settings{}, KernelDiskOptions{});
    MILK_VM_CHECK(bystander.ok());
    const std::string bystander_path = bystander.value()->path();
    auto* kept = static_cast<std::byte*>(std::aligned_alloc(4096, 65536));
    auto* back = static_cast<std::byte*>(std::aligned_alloc(4096, 65536));
    for (std::size_t i = 0; i < 65536; ++i) kept[i] = pattern(11, i);
    const int keeper = ::open(bystander_path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    MILK_VM_CHECK(keeper >= 0 && ::pwrite(keeper, kept, 65536, 0) == 65536);

    const std::pair<Lie, const char*> lies[] = {
        {Lie::other_tag, "blk: an answer for no request of the batch"},
        {Lie::short_read, "blk: a read's answer of the wrong length"},
        {Lie::ok_without_blocks, "blk: a read answered ok without its blocks"},
        {Lie::early_completed, "blk: Completed before every request had its answer"},
    };
    for (const auto& [lie, reason] : lies) {
        auto channel = milk::inproc::open_channel();
        MILK_VM_CHECK(channel.ok());
        auto [client_end, server_end] = std::move(channel).value();
        std::thread service = rogue(std::move(server_end), lie);
        KernelDiskOptions options;
        options.depth = 4;
        options.service_timeout = std::chrono::milliseconds(2000);
        auto disk = KernelDisk::try_create(Blk::Contract::client(std::move(client_end)), options);
        MILK_VM_CHECK(disk.ok());
        const int fd = ::open(disk.value()->path().c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
        MILK_VM_CHECK(fd >= 0);
        std::memset(back, 0xab, 4096);
        errno = 0;
        MILK_VM_CHECK(::pread(fd, back, 4096, 5 * 4096) == -1 && errno == EIO);
        for (std::size_t i = 0; i < 4096; ++i) MILK_VM_CHECK(back[i] == std::byte{0xab});
        service.join();
        const auto stats = disk.value()->stats();
        MILK_VM_CHECK(stats.service_error.has_value());
        if (std::strcmp(stats.service_error->what, reason) != 0)
            std::fprintf(stderr, "expected \"%s\", got \"%s\"\n", reason, stats.service_error->what);
        MILK_VM_CHECK(std::strcmp(stats.service_error->what, reason) == 0);
        errno = 0;
        MILK_VM_CHECK(::pread(fd, back, 4096, 0) == -1 && errno == EIO);
        ::close(fd);
    }
    MILK_VM_CHECK(::pread(keeper, back, 65536, 0) == 65536 && std::memcmp(back, kept, 65536) == 0);
    ::close(keeper);
    std::free(kept);
    std::free(back);
    std::printf("lying services (another tag, a short read, ok without blocks, Completed too early): each read failed "
                "with EIO, nothing of the lie in the reader's buffer, the channel dropped; the disk beside them intact\n");
}

}  // namespace

int main() {
    raw_agent();
    rogue_services();
    placed(milk::Placement::Process, "process");
    placed(milk::Placement::Kernel, "kernel");
    killed_fail();
    killed_replay();
    killed_replay_file();
    std::printf("kernel disk: every check passed\n");
    return 0;
}
