// libmilk_ship.so: function shipping (mOS, Barrelfish) of file I/O to a
// block service over a milk channel. An unmodified program run with
//
//   LD_PRELOAD=libmilk_ship.so MILK_SHIP_PREFIX=/milk/ MILK_SHIP_SOCKET=/run/milkd.sock
//       MILK_SHIP_INSTANCE=disk dd if=/milk/disk of=out bs=4k count=256   (one command line)
//
// has every file under MILK_SHIP_PREFIX served by the block service
// instance MILK_SHIP_INSTANCE of the milkd behind MILK_SHIP_SOCKET: its
// open, read, write, pread, pwrite, lseek, fstat, fsync, fdatasync,
// ftruncate and close on such a file become requests of
// contracts/blk.contract (BlkClient), wherever milkd placed the service.
// Every other file goes to the C library as before. docs/blk.md,
// "Function shipping", says what a shipped file is:
//
//   * every path under the prefix names the whole device: a file of the
//     device's size, its bytes the device's blocks (a service with a file
//     backend keeps them in its file);
//   * reads and writes at any offset and length: whole blocks go as they
//     are, a partial block is read, changed and written back (the block
//     service takes whole blocks only); at most 32 blocks a request;
//   * fsync and fdatasync are a Flush; ftruncate changes nothing (the
//     device's size is fixed) and refuses a length past its end; fstat
//     says a regular file of the device's size.
//
// Only calls made through the C library's exported functions reach here:
// stdio's reads inside glibc (fread, getline) use glibc's own internal
// entry points and are not shipped (docs/blk.md).
#include "blk/blk_client.hpp"

#include <milk/host/client.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

using components::blk::BlkClient;
using components::blk::Request;
using components::blk::RequestKind;
using milk::blk::BlkStatus;
namespace Blk = milk::blk::Blk;

constexpr auto answer_timeout = std::chrono::seconds(10);
constexpr std::uint32_t most_blocks = 32;

template <typename Function>
Function real(const char* name) {
    return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

struct Real {
    int (*open)(const char*, int, ...) = real<int (*)(const char*, int, ...)>("open");
    int (*openat)(int, const char*, int, ...) = real<int (*)(int, const char*, int, ...)>("openat");
    ssize_t (*read)(int, void*, size_t) = real<ssize_t (*)(int, void*, size_t)>("read");
    ssize_t (*write)(int, const void*, size_t) = real<ssize_t (*)(int, const void*, size_t)>("write");
    ssize_t (*pread)(int, void*, size_t, off_t) = real<ssize_t (*)(int, void*, size_t, off_t)>("pread");
    ssize_t (*pwrite)(int, const void*, size_t, off_t) = real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
    off_t (*lseek)(int, off_t, int) = real<off_t (*)(int, off_t, int)>("lseek");
    int (*fstat)(int, struct stat*) = real<int (*)(int, struct stat*)>("fstat");
    int (*fsync)(int) = real<int (*)(int)>("fsync");
    int (*fdatasync)(int) = real<int (*)(int)>("fdatasync");
    int (*ftruncate)(int, off_t) = real<int (*)(int, off_t)>("ftruncate");
    int (*close)(int) = real<int (*)(int)>("close");
    int (*dup)(int) = real<int (*)(int)>("dup");
    int (*dup2)(int, int) = real<int (*)(int, int)>("dup2");
    int (*dup3)(int, int, int) = real<int (*)(int, int, int)>("dup3");
    int (*fcntl)(int, int, ...) = real<int (*)(int, int, ...)>("fcntl");
};

const Real& libc() {
    static const Real functions;
    return functions;
}

// Set while this library works on a shipped call: milk's own system calls
// (the channel's fstat, read, close) then go straight to the C library.
thread_local bool t_inside = false;

class Inside {
public:
    Inside() : m_was(std::exchange(t_inside, true)) {}
    ~Inside() { t_inside = m_was; }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;

private:
    bool m_was;
};

// The service, reached on the first shipped open; one request at a time.
class Shipping {
public:
    static Shipping& get() {
        static Shipping shipping;
        return shipping;
    }

    [[nodiscard]] bool ships(const char* path) const {
        return !t_inside && !m_prefix.empty() && std::strncmp(path, m_prefix.c_str(), m_prefix.size()) == 0;
    }

    // A shipped open: a descriptor of /dev/null holds the number.
    int open(int flags) {
        const std::lock_guard lock(m_mutex);
        const Inside inside;
        if (!connect()) {
            errno = EIO;
            return -1;
        }
        const int fd = libc().open("/dev/null", O_RDWR | (flags & O_CLOEXEC));
        if (fd < 0) return -1;
        m_files[fd] = std::make_shared<std::uint64_t>(0);
        return fd;
    }

    [[nodiscard]] bool owns(int fd) {
        if (t_inside) return false;
        const std::lock_guard lock(m_mutex);
        return m_files.count(fd) != 0;
    }

    ssize_t transfer(int fd, std::byte* data, std::size_t bytes, std::optional<off_t> at, bool write) {
        const std::lock_guard lock(m_mutex);
        const Inside inside;
        auto file = m_files.find(fd);
        if (file == m_files.end() || !m_disk) {
            errno = EBADF;
            return -1;
        }
        const std::uint64_t size = device_bytes();
        std::uint64_t offset = at ? static_cast<std::uint64_t>(*at) : *file->second;
        if (at && *at < 0) {
            errno = EINVAL;
            return -1;
        }
        if (offset >= size) {
            if (!write || bytes == 0) return 0;
            errno = ENOSPC;
            return -1;
        }
        bytes = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, size - offset));
        std::size_t done = 0;
        const std::uint32_t block_size = m_disk->device().block_size;
        while (done < bytes) {
            const std::uint64_t position = offset + done;
            const std::uint64_t first = position / block_size;
            const std::size_t skip = static_cast<std::size_t>(position % block_size);
            const std::uint32_t blocks = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(most_blocks, (skip + (bytes - done) + block_size - 1) / block_size));
            const std::size_t span_bytes = std::size_t{blocks} * block_size;
            const std::size_t take = std::min(bytes - done, span_bytes - skip);
            std::vector<std::byte> blocks_data(span_bytes);
            const bool whole = skip == 0 && take == span_bytes;
            if (!write || !whole) {
                if (!read_blocks(first, blocks, blocks_data)) return fail(done);
            }
            if (write) {
                std::memcpy(blocks_data.data() + skip, data + done, take);
                if (!write_blocks(first, blocks, blocks_data)) return fail(done);
            } else {
                std::memcpy(data + done, blocks_data.data() + skip, take);
            }
            done += take;
        }
        if (!at) *file->second = offset + done;
        return static_cast<ssize_t>(done);
    }

    off_t seek(int fd, off_t offset, int whence) {
        const std::lock_guard lock(m_mutex);
        auto file = m_files.find(fd);
        if (file == m_files.end()) {
            errno = EBADF;
            return -1;
        }
        std::int64_t base = 0;
        if (whence == SEEK_CUR) base = static_cast<std::int64_t>(*file->second);
        else if (whence == SEEK_END) base = static_cast<std::int64_t>(device_bytes());
        else if (whence != SEEK_SET) {
            errno = EINVAL;
            return -1;
        }
        if (base + offset < 0) {
            errno = EINVAL;
            return -1;
        }
        *file->second = static_cast<std::uint64_t>(base + offset);
        return static_cast<off_t>(*file->second);
    }

    int stat(int fd, struct stat* status) {
        const Inside inside;
        if (libc().fstat(fd, status) != 0) return -1;
        const std::lock_guard lock(m_mutex);
        status->st_mode = S_IFREG | 0644;
        status->st_size = static_cast<off_t>(device_bytes());
        status->st_blksize = m_disk ? m_disk->device().block_size : 4096;
        status->st_blocks = status->st_size / 512;
        return 0;
    }

    int flush() {
        const std::lock_guard lock(m_mutex);
        const Inside inside;
        const std::array<Request, 1> flush{Request{RequestKind::flush, 0, 0, 0, {}}};
        if (!submit(flush, nullptr)) {
            errno = EIO;
            return -1;
        }
        return 0;
    }

    int truncate(off_t length) {
        const std::lock_guard lock(m_mutex);
        if (length < 0 || static_cast<std::uint64_t>(length) > device_bytes()) {
            errno = EFBIG;
            return -1;
        }
        return 0;
    }

    void close(int fd) {
        const std::lock_guard lock(m_mutex);
        m_files.erase(fd);
    }

    // After the C library duplicated `from` onto `to` (dup, dup2, dup3,
    // F_DUPFD): `to` is shipped, with `from`'s offset, exactly when `from`
    // is (dd puts its input on fd 0 so).
    void duplicated(int from, int to) {
        if (to < 0 || from == to) return;
        const std::lock_guard lock(m_mutex);
        auto source = m_files.find(from);
        if (source == m_files.end()) m_files.erase(to);
        else m_files[to] = source->second;
    }

private:
    Shipping() {
        if (const char* prefix = std::getenv("MILK_SHIP_PREFIX")) m_prefix = prefix;
        if (const char* socket = std::getenv("MILK_SHIP_SOCKET")) m_socket = socket;
        if (const char* instance = std::getenv("MILK_SHIP_INSTANCE")) m_instance = instance;
    }

    bool connect() {
        if (m_disk) return true;
        if (m_failed) return false;
        auto endpoint = milk::host::connect<Blk::Contract>(m_socket, m_instance);
        if (endpoint.ok()) {
            auto client = BlkClient::try_connect(std::move(endpoint).value(), 1, answer_timeout);
            if (client.ok()) {
                m_disk.emplace(std::move(client).value());
                return true;
            }
            report(client.error());
        } else {
            report(endpoint.error());
        }
        m_failed = true;
        return false;
    }

    void report(const milk::Error& error) {
        std::fprintf(stderr, "milk ship: no block service %s at %s: %s (%lld)\n", m_instance.c_str(), m_socket.c_str(),
                     error.what, static_cast<long long>(error.detail));
    }

    [[nodiscard]] std::uint64_t device_bytes() const {
        return m_disk ? m_disk->device().blocks * m_disk->device().block_size : 0;
    }

    bool submit(std::span<const Request> batch, std::vector<std::byte>* into) {
        if (!m_disk) return false;
        bool ok = true;
        auto sent = m_disk->submit(batch, answer_timeout, [&](std::uint32_t, BlkStatus status, std::span<const std::byte> data) {
            if (status != BlkStatus::ok) ok = false;
            else if (into != nullptr && data.size() == into->size()) std::memcpy(into->data(), data.data(), data.size());
        });
        if (!sent.ok()) {
            // The channel is gone: every later call fails.
            report(sent.error());
            m_disk.reset();
            m_failed = true;
            return false;
        }
        return ok;
    }

    bool read_blocks(std::uint64_t first, std::uint32_t blocks, std::vector<std::byte>& into) {
        const std::array<Request, 1> read{Request{RequestKind::read, 0, first, blocks, {}}};
        return submit(read, &into);
    }

    bool write_blocks(std::uint64_t first, std::uint32_t blocks, const std::vector<std::byte>& from) {
        const std::array<Request, 1> write{Request{RequestKind::write, 0, first, blocks, from}};
        return submit(write, nullptr);
    }

    ssize_t fail(std::size_t done) {
        if (done > 0) return static_cast<ssize_t>(done);
        errno = EIO;
        return -1;
    }

    std::string m_prefix;
    std::string m_socket = "/run/milk/milkd.sock";
    std::string m_instance = "disk";
    std::mutex m_mutex;
    std::optional<BlkClient> m_disk;
    bool m_failed = false;
    // Each shipped fd's offset, shared by the fds dup'd from it (as the
    // kernel shares one open file's offset).
    std::map<int, std::shared_ptr<std::uint64_t>> m_files;
};

int ship_open(int flags) { return Shipping::get().open(flags); }

}  // namespace

// The interposed functions: the C library's names, C linkage.
extern "C" {

int open(const char* path, int flags, ...) {
    mode_t mode = 0;
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list arguments;
        va_start(arguments, flags);
        mode = static_cast<mode_t>(va_arg(arguments, int));
        va_end(arguments);
    }
    if (Shipping::get().ships(path)) return ship_open(flags);
    return libc().open(path, flags, mode);
}

int open64(const char* path, int flags, ...) __attribute__((alias("open")));

int openat(int directory, const char* path, int flags, ...) {
    mode_t mode = 0;
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list arguments;
        va_start(arguments, flags);
        mode = static_cast<mode_t>(va_arg(arguments, int));
        va_end(arguments);
    }
    if (path[0] == '/' && Shipping::get().ships(path)) return ship_open(flags);
    return libc().openat(directory, path, flags, mode);
}

int openat64(int directory, const char* path, int flags, ...) __attribute__((alias("openat")));

ssize_t read(int fd, void* data, size_t bytes) {
    if (!Shipping::get().owns(fd)) return libc().read(fd, data, bytes);
    return Shipping::get().transfer(fd, static_cast<std::byte*>(data), bytes, std::nullopt, false);
}

ssize_t write(int fd, const void* data, size_t bytes) {
    if (!Shipping::get().owns(fd)) return libc().write(fd, data, bytes);
    return Shipping::get().transfer(fd, static_cast<std::byte*>(const_cast<void*>(data)), bytes, std::nullopt, true);
}

ssize_t pread(int fd, void* data, size_t bytes, off_t at) {
    if (!Shipping::get().owns(fd)) return libc().pread(fd, data, bytes, at);
    return Shipping::get().transfer(fd, static_cast<std::byte*>(data), bytes, at, false);
}

ssize_t pread64(int fd, void* data, size_t bytes, off_t at) __attribute__((alias("pread")));

ssize_t pwrite(int fd, const void* data, size_t bytes, off_t at) {
    if (!Shipping::get().owns(fd)) return libc().pwrite(fd, data, bytes, at);
    return Shipping::get().transfer(fd, static_cast<std::byte*>(const_cast<void*>(data)), bytes, at, true);
}

ssize_t pwrite64(int fd, const void* data, size_t bytes, off_t at) __attribute__((alias("pwrite")));

off_t lseek(int fd, off_t offset, int whence) {
    if (!Shipping::get().owns(fd)) return libc().lseek(fd, offset, whence);
    return Shipping::get().seek(fd, offset, whence);
}

off_t lseek64(int fd, off_t offset, int whence) __attribute__((alias("lseek")));

int fstat(int fd, struct stat* status) {
    if (!Shipping::get().owns(fd)) return libc().fstat(fd, status);
    return Shipping::get().stat(fd, status);
}

int fstat64(int fd, struct stat64* status) {
    // On x86-64 struct stat64 is struct stat.
    static_assert(sizeof(struct stat64) == sizeof(struct stat));
    return fstat(fd, reinterpret_cast<struct stat*>(status));
}

int fsync(int fd) {
    if (!Shipping::get().owns(fd)) return libc().fsync(fd);
    return Shipping::get().flush();
}

int fdatasync(int fd) {
    if (!Shipping::get().owns(fd)) return libc().fdatasync(fd);
    return Shipping::get().flush();
}

int ftruncate(int fd, off_t length) {
    if (!Shipping::get().owns(fd)) return libc().ftruncate(fd, length);
    return Shipping::get().truncate(length);
}

int ftruncate64(int fd, off_t length) __attribute__((alias("ftruncate")));

int close(int fd) {
    if (Shipping::get().owns(fd)) Shipping::get().close(fd);
    return libc().close(fd);
}

int dup(int fd) {
    const int copy = libc().dup(fd);
    if (copy >= 0 && !t_inside) Shipping::get().duplicated(fd, copy);
    return copy;
}

int dup2(int fd, int to) {
    const int copy = libc().dup2(fd, to);
    if (copy >= 0 && !t_inside) Shipping::get().duplicated(fd, copy);
    return copy;
}

int dup3(int fd, int to, int flags) {
    const int copy = libc().dup3(fd, to, flags);
    if (copy >= 0 && !t_inside) Shipping::get().duplicated(fd, copy);
    return copy;
}

// Every fcntl command passes its argument on; the F_DUPFD ones also
// duplicate a shipped fd's state.
int fcntl(int fd, int command, ...) {
    va_list arguments;
    va_start(arguments, command);
    const long argument = va_arg(arguments, long);
    va_end(arguments);
    const int result = libc().fcntl(fd, command, argument);
    if (result >= 0 && (command == F_DUPFD || command == F_DUPFD_CLOEXEC) && !t_inside)
        Shipping::get().duplicated(fd, result);
    return result;
}

int fcntl64(int fd, int command, ...) __attribute__((alias("fcntl")));

}  // extern "C"
