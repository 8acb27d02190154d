// What the VM programs that put a file system on milk's block device share
// (kernel_blk_device_test, kernel_blk_disk_test): running a guest tool
// (mkfs.ext4, e2fsck), a deterministic byte pattern, a checksum, and
// dropping the page cache so that a read comes from the device.
#pragma once

#include "vm_check.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace milk::vm {

// A program of the guest, waited for: its exit status (128 + the signal).
inline int run(const std::vector<const char*>& arguments) {
    std::vector<char*> argv;
    for (const char* argument : arguments) argv.push_back(const_cast<char*>(argument));
    argv.push_back(nullptr);
    const pid_t child = ::fork();
    MILK_VM_CHECK(child >= 0);
    if (child == 0) {
        ::execvp(argv[0], argv.data());
        std::perror(argv[0]);
        ::_exit(127);
    }
    int status = 0;
    MILK_VM_CHECK(::waitpid(child, &status, 0) == child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Byte `at` of stream `seed`: no two streams, and no two nearby bytes, alike.
inline std::byte pattern(std::uint64_t seed, std::uint64_t at) {
    std::uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (at / 8) * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    return static_cast<std::byte>((x >> ((at % 8) * 8)) & 0xff);
}

// FNV-1a.
inline std::uint64_t fnv(const std::vector<std::byte>& data) {
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (const std::byte b : data) hash = (hash ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ull;
    return hash;
}

inline void drop_caches() {
    ::sync();
    const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
    MILK_VM_CHECK(fd >= 0);
    MILK_VM_CHECK(::write(fd, "3", 1) == 1);
    ::close(fd);
}

// The checksum (fnv) of the whole file `name`, read in one go.
inline std::uint64_t file_checksum(const std::string& name) {
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    struct stat status {};
    MILK_VM_CHECK(::fstat(fd, &status) == 0);
    std::vector<std::byte> data(static_cast<std::size_t>(status.st_size));
    MILK_VM_CHECK(::read(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    ::close(fd);
    return fnv(data);
}

// ext4 on the block device `path`: made, `files` files written (from a few
// bytes to 1 << (10 + max_shift) bytes: inline, extent and indirect-sized;
// every fourth fsynced), unmounted, mounted again read-only with nothing
// cached, every file compared, unmounted, e2fsck -fn clean. The bytes
// written.
inline std::uint64_t ext4_round_trip(const std::string& path, int files, int max_shift, std::uint64_t seed) {
    MILK_VM_CHECK(run({"mkfs.ext4", "-q", "-F", path.c_str()}) == 0);
    ::mkdir("/mnt", 0755);
    ::mkdir("/mnt/fs", 0755);
    MILK_VM_CHECK(::mount(path.c_str(), "/mnt/fs", "ext4", 0, nullptr) == 0);
    std::vector<std::uint64_t> sums;
    std::uint64_t total = 0;
    for (int i = 0; i < files; ++i) {
        const std::size_t length =
            (i % 6 == 0) ? 17 + i : (std::size_t{1} << (10 + i % max_shift)) + static_cast<std::size_t>(i) * 4093;
        std::vector<std::byte> data(length);
        for (std::size_t at = 0; at < length; ++at) data[at] = pattern(seed + i, at);
        sums.push_back(fnv(data));
        total += length;
        const std::string name = "/mnt/fs/file" + std::to_string(i);
        const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        MILK_VM_CHECK(fd >= 0);
        MILK_VM_CHECK(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
        if (i % 4 == 0) MILK_VM_CHECK(::fsync(fd) == 0);
        ::close(fd);
    }
    MILK_VM_CHECK(::umount("/mnt/fs") == 0);
    drop_caches();
    MILK_VM_CHECK(::mount(path.c_str(), "/mnt/fs", "ext4", MS_RDONLY, nullptr) == 0);
    for (int i = 0; i < files; ++i)
        MILK_VM_CHECK(file_checksum("/mnt/fs/file" + std::to_string(i)) == sums[static_cast<std::size_t>(i)]);
    MILK_VM_CHECK(::umount("/mnt/fs") == 0);
    MILK_VM_CHECK(run({"e2fsck", "-f", "-n", path.c_str()}) == 0);
    return total;
}

}  // namespace milk::vm
