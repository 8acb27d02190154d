// The kernel block device (MILK_IOC_BLK_*, docs/blk.md "The kernel
// device"): /dev/milkblkN, a blk-mq disk whose requests milk.ko hands to
// the block service blk_ram, called directly in the module.
//
//   * the ABI's refusals (no such service, no block service, a malformed
//     request, settings the service refuses, a second device on one fd,
//     more devices than the module numbers);
//   * raw I/O through the block layer (O_DIRECT and buffered, 4096- and
//     512-byte blocks, discard): every byte read back as written;
//   * a real file system: mkfs.ext4 on the device, mounted, files written
//     and synced, unmounted, mounted again with the caches dropped, every
//     file read back and compared, unmounted, e2fsck finds it clean;
//   * the device's own counts agree with what was done;
//   * the creating fd closed while the disk is still open elsewhere: the
//     disk goes, I/O on it fails with EIO, nothing oopses.
//
// The harness gives the guest mkfs.ext4 and e2fsck (--tool) and the ext4
// module (--kmod).
#include "vm_check.hpp"
#include "vm_fs.hpp"

#include <linux/fs.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using milk::vm::drop_caches;
using milk::vm::fnv;
using milk::vm::pattern;
using milk::vm::run;

struct Made {
    int fd = -1;
    milk_blk_create info{};
};

milk_blk_create request(const char* service, std::uint32_t depth) {
    milk_blk_create create{};
    create.depth = depth;
    std::snprintf(create.service, sizeof(create.service), "%s", service);
    return create;
}

void set(milk_blk_create& create, const char* name, std::int64_t value) {
    milk_setting& entry = create.settings.entries[create.settings.count++];
    std::snprintf(entry.name, sizeof(entry.name), "%s", name);
    entry.value = value;
}

Made make_disk(std::int64_t blocks, std::int64_t block_size, std::uint32_t depth) {
    Made made;
    made.fd = milk::vm::open_device();
    made.info = request("blk_ram", depth);
    set(made.info, "blocks", blocks);
    set(made.info, "block_size", block_size);
    MILK_VM_CHECK(::ioctl(made.fd, MILK_IOC_BLK_CREATE, &made.info) == 0);
    MILK_VM_CHECK(made.info.blocks == static_cast<std::uint64_t>(blocks));
    MILK_VM_CHECK(made.info.block_size == block_size);
    return made;
}

std::string node(const Made& made) { return "/dev/milkblk" + std::to_string(made.info.index); }

milk_blk_stats stats_of(const Made& made) {
    milk_blk_stats stats{};
    MILK_VM_CHECK(::ioctl(made.fd, MILK_IOC_BLK_STATS, &stats) == 0);
    return stats;
}

void refusals() {
    const int fd = milk::vm::open_device();
    milk_blk_create create = request("no_such_service", 8);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), ENOENT);
    create = request("echo", 8);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EPROTONOSUPPORT);
    create = request("blk_ram", 0);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create = request("blk_ram", MILK_BLK_MAX_DEPTH + 1);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create = request("blk_ram", 8);
    create.deadline_ms = 100;  // a deadline is for an agent's disk
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    // An agent's disk (no service): its geometry must make sense, and it
    // takes no settings.
    create = request("", 8);
    create.block_size = 4096;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);  // no blocks
    create.blocks = 16;
    create.block_size = 1024;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create.block_size = 4096;
    create.blocks = MILK_BLK_MAX_BYTES / 4096 + 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create.blocks = 16;
    create.deadline_ms = MILK_BLK_MAX_DEADLINE_MS + 1;
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create.deadline_ms = 0;
    set(create, "blocks", 16);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    // The agent's calls on a fd with no disk, and on a disk of a service in the module.
    milk_blk_request seen[1]{};
    milk_blk_wait wait{reinterpret_cast<std::uintptr_t>(seen), 1, 0, 0};
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_WAIT, &wait), ENODEV);
    create = request("blk_ram", 8);
    set(create, "block_size", 1000);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create = request("blk_ram", 8);
    set(create, "no_such_setting", 1);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    create = request("blk_ram", 8);
    std::memset(create.service, 'x', sizeof(create.service));
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), EINVAL);
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, nullptr), EFAULT);
    milk_blk_stats stats{};
    MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_STATS, &stats), ENODEV);
    ::close(fd);
    std::printf("refused: no such service, no block service, depth 0 and %u, a deadline with a service, an agent's "
                "disk of no blocks, of 1024-byte blocks, past 1 TiB, with a deadline past 600 s, with settings; bad "
                "settings, an unterminated name, a bad address; stats and WAIT of no device\n",
                MILK_BLK_MAX_DEPTH + 1);
}

// O_DIRECT writes of several sizes at several places, read back buffered
// and direct; a discarded range reads as zeros.
void raw_io(const Made& made) {
    const std::string path = node(made);
    const std::uint64_t size = made.info.blocks * made.info.block_size;
    const int direct = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    MILK_VM_CHECK(direct >= 0);
    std::uint64_t bytes = 0;
    MILK_VM_CHECK(::ioctl(direct, BLKGETSIZE64, &bytes) == 0 && bytes == size);
    int logical = 0;
    MILK_VM_CHECK(::ioctl(direct, BLKSSZGET, &logical) == 0 && logical == static_cast<int>(made.info.block_size));

    const std::size_t most = 1 << 20;
    auto* buffer = static_cast<std::byte*>(std::aligned_alloc(4096, most));
    auto* back = static_cast<std::byte*>(std::aligned_alloc(4096, most));
    MILK_VM_CHECK(buffer != nullptr && back != nullptr);
    struct Piece {
        std::uint64_t offset;
        std::size_t length;
    };
    const std::uint64_t unit = made.info.block_size;
    // The middle piece stays clear of the last one on a small device.
    const std::size_t middle = static_cast<std::size_t>(std::min<std::uint64_t>(most, size / 4));
    const Piece pieces[] = {{0, unit}, {unit * 3, unit * 5}, {size / 2, middle}, {size - unit * 2, unit * 2}, {unit * 64, 128 * 1024}};
    for (std::size_t i = 0; i < std::size(pieces); ++i) {
        for (std::size_t at = 0; at < pieces[i].length; ++at) buffer[at] = pattern(i, pieces[i].offset + at);
        MILK_VM_CHECK(::pwrite(direct, buffer, pieces[i].length, static_cast<off_t>(pieces[i].offset)) ==
                      static_cast<ssize_t>(pieces[i].length));
    }
    MILK_VM_CHECK(::fsync(direct) == 0);
    drop_caches();
    const int buffered = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    MILK_VM_CHECK(buffered >= 0);
    for (std::size_t i = 0; i < std::size(pieces); ++i) {
        for (const int fd : {direct, buffered}) {
            std::memset(back, 0xee, pieces[i].length);
            MILK_VM_CHECK(::pread(fd, back, pieces[i].length, static_cast<off_t>(pieces[i].offset)) ==
                          static_cast<ssize_t>(pieces[i].length));
            for (std::size_t at = 0; at < pieces[i].length; ++at) MILK_VM_CHECK(back[at] == pattern(i, pieces[i].offset + at));
        }
    }
    // Past the end: nothing (a read at the end returns 0 bytes), and a
    // write there fails.
    MILK_VM_CHECK(::pread(direct, back, unit, static_cast<off_t>(size)) == 0);
    MILK_VM_CHECK(::pwrite(direct, buffer, unit, static_cast<off_t>(size)) == -1);

    // Discard the middle piece: it reads zeros, its neighbours do not change.
    const std::uint64_t range[2] = {size / 2, middle};
    MILK_VM_CHECK(::ioctl(direct, BLKDISCARD, range) == 0);
    MILK_VM_CHECK(::pread(direct, back, middle, static_cast<off_t>(size / 2)) == static_cast<ssize_t>(middle));
    for (std::size_t at = 0; at < middle; ++at) MILK_VM_CHECK(back[at] == std::byte{0});
    MILK_VM_CHECK(::pread(direct, back, unit * 5, static_cast<off_t>(unit * 3)) == static_cast<ssize_t>(unit * 5));
    for (std::size_t at = 0; at < unit * 5; ++at) MILK_VM_CHECK(back[at] == pattern(1, unit * 3 + at));
    ::close(buffered);
    ::close(direct);
    std::free(buffer);
    std::free(back);
    std::printf("%s (%" PRIu64 " x %u bytes): 5 direct writes read back direct and through the page cache, "
                "discard reads zeros\n",
                path.c_str(), static_cast<std::uint64_t>(made.info.blocks), made.info.block_size);
}

// ext4 on the device: files written, the file system unmounted and mounted
// again with nothing cached, every file compared, e2fsck clean.
void file_system(const Made& made) {
    const std::string path = node(made);
    constexpr int files = 24;
    const std::uint64_t total = milk::vm::ext4_round_trip(path, files, 12, 100);
    std::printf("%s: mkfs.ext4, %d files (%" PRIu64 " bytes) written, unmounted, mounted again uncached, "
                "every checksum equal, e2fsck -fn clean\n",
                path.c_str(), files, total);
}

// The disk goes with the fd that made it, even while another fd has it
// open: I/O on that one fails from then on, and the node is gone.
void gone_with_its_fd(Made made) {
    const std::string path = node(made);
    const int open_disk = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    MILK_VM_CHECK(open_disk >= 0);
    auto* buffer = static_cast<std::byte*>(std::aligned_alloc(4096, 4096));
    MILK_VM_CHECK(::pread(open_disk, buffer, 4096, 0) == 4096);
    ::close(made.fd);
    // A deleted disk has no blocks left: a read gets nothing (0 bytes: its
    // size is 0 now, or -1 with EIO, by kernel), a write fails.
    errno = 0;
    const ssize_t read = ::pread(open_disk, buffer, 4096, 0);
    const int read_errno = errno;
    MILK_VM_CHECK(read == 0 || (read == -1 && read_errno == EIO));
    errno = 0;
    MILK_VM_CHECK(::pwrite(open_disk, buffer, 4096, 0) == -1);
    const int write_errno = errno;
    std::uint64_t bytes = 1;
    MILK_VM_CHECK(::ioctl(open_disk, BLKGETSIZE64, &bytes) == 0 && bytes == 0);
    ::close(open_disk);
    std::free(buffer);
    struct stat status {};
    MILK_VM_CHECK(::stat(path.c_str(), &status) == -1 && errno == ENOENT);
    std::printf("%s deleted with its fd while open elsewhere: size 0, a read returns %zd (errno %d), a write fails "
                "(errno %d: %s), the node is gone\n",
                path.c_str(), read, read_errno, write_errno, std::strerror(write_errno));
}

}  // namespace

int main() {
    refusals();

    Made disk = make_disk(8192, 4096, 32);  // 32 MiB of 4 KiB blocks
    {
        milk_blk_create again = request("blk_ram", 8);
        MILK_VM_CHECK_ERRNO(::ioctl(disk.fd, MILK_IOC_BLK_CREATE, &again), EBUSY);
        // The service is in the module: there is no agent to wait.
        milk_blk_request seen[1]{};
        milk_blk_wait wait{reinterpret_cast<std::uintptr_t>(seen), 1, 0, 0};
        MILK_VM_CHECK_ERRNO(::ioctl(disk.fd, MILK_IOC_BLK_WAIT, &wait), ENODEV);
    }
    raw_io(disk);
    const milk_blk_stats raw = stats_of(disk);
    MILK_VM_CHECK(raw.writes >= 5 && raw.reads >= 5 && raw.discards >= 1 && raw.errors == 0);
    MILK_VM_CHECK(raw.write_bytes >= (1u << 20));
    file_system(disk);
    const milk_blk_stats after = stats_of(disk);
    MILK_VM_CHECK(after.writes > raw.writes && after.reads > raw.reads && after.flushes > raw.flushes && after.errors == 0);
    std::printf("counts: %" PRIu64 " reads (%" PRIu64 " bytes), %" PRIu64 " writes (%" PRIu64 " bytes), %" PRIu64
                " flushes, %" PRIu64 " discards, 0 errors\n",
                static_cast<std::uint64_t>(after.reads), static_cast<std::uint64_t>(after.read_bytes),
                static_cast<std::uint64_t>(after.writes), static_cast<std::uint64_t>(after.write_bytes),
                static_cast<std::uint64_t>(after.flushes), static_cast<std::uint64_t>(after.discards));

    Made small = make_disk(4096, 512, 4);  // 2 MiB of 512-byte blocks
    raw_io(small);
    ::close(small.fd);

    // Every number in use: the next device is refused, and the numbers
    // come back when their fds go.
    std::vector<Made> many;
    many.push_back(std::move(disk));
    while (many.size() < MILK_BLK_MAX_DEVICES) many.push_back(make_disk(16, 4096, 1));
    {
        const int fd = milk::vm::open_device();
        milk_blk_create create = request("blk_ram", 1);
        set(create, "blocks", 16);
        MILK_VM_CHECK_ERRNO(::ioctl(fd, MILK_IOC_BLK_CREATE, &create), ENOSPC);
        ::close(fd);
    }
    for (std::size_t i = 1; i < many.size(); ++i) ::close(many[i].fd);
    std::printf("%u devices at once; one more refused with ENOSPC\n", MILK_BLK_MAX_DEVICES);
    gone_with_its_fd(many[0]);
    std::printf("block device: every check passed\n");
    return 0;
}
