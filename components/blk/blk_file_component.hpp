// blk_file: the block service with its blocks in a file (or on a block
// device node), so that they outlive the channel, the service's process and
// the program that wrote them: a restarted service finds what its
// predecessor wrote, and two programs shipping their I/O to it (libmilk_ship.so)
// see each other's data.
//
// User space only: it reads its file's path as a text setting, and uses
// POSIX file I/O. In milk.ko the RAM store is the one there is (docs/blk.md).
#pragma once

#include "blk_component.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <span>
#include <string>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace components::blk {

// The device's blocks, in the first blocks x block_size bytes of a file.
// Owns its descriptor; moves, never copies.
class FileStore {
public:
    FileStore(FileStore&& other) noexcept
        : m_fd(std::exchange(other.m_fd, -1)), m_blocks(other.m_blocks), m_block_size(other.m_block_size) {}
    FileStore& operator=(FileStore&& other) noexcept {
        if (this != &other) {
            close_fd();
            m_fd = std::exchange(other.m_fd, -1);
            m_blocks = other.m_blocks;
            m_block_size = other.m_block_size;
        }
        return *this;
    }
    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;
    ~FileStore() { close_fd(); }

    // Opens `path`, creating it if need be. A file shorter than the device
    // grows (sparse: the new blocks read as zeros, as a fresh disk's); a
    // longer one keeps its tail, which the device does not reach.
    [[nodiscard]] static milk::Result<FileStore> try_open(const std::string& path, std::uint64_t blocks,
                                                          std::uint32_t block_size) {
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return milk::Error{milk::ErrorCode::SystemError, "blk_file: cannot open or create `path`", errno};
        FileStore store(fd, blocks, block_size);
        struct stat status {};
        if (::fstat(fd, &status) != 0)
            return milk::Error{milk::ErrorCode::SystemError, "blk_file: fstat of `path` failed", errno};
        const std::uint64_t bytes = blocks * block_size;
        if (S_ISREG(status.st_mode)) {
            if (static_cast<std::uint64_t>(status.st_size) < bytes && ::ftruncate(fd, static_cast<off_t>(bytes)) != 0)
                return milk::Error{milk::ErrorCode::SystemError, "blk_file: cannot grow `path` to the device's size", errno};
        } else if (S_ISBLK(status.st_mode)) {
            // A block device cannot grow: one smaller than the device
            // would fail writes past its end long after the open.
            std::uint64_t device_bytes = 0;
            if (::ioctl(fd, BLKGETSIZE64, &device_bytes) != 0)
                return milk::Error{milk::ErrorCode::SystemError, "blk_file: the size of the block device `path` is unknown", errno};
            if (device_bytes < bytes)
                return milk::Error{milk::ErrorCode::InvalidArgument, "blk_file: the block device `path` is smaller than `blocks`",
                                   static_cast<std::int64_t>(device_bytes)};
        } else {
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk_file: `path` is neither a regular file nor a block device",
                               static_cast<std::int64_t>(status.st_mode)};
        }
        return store;
    }

    [[nodiscard]] std::uint64_t blocks() const { return m_blocks; }
    [[nodiscard]] std::uint32_t block_size() const { return m_block_size; }

    // The calls BlockService makes, with ranges it has checked (within). A read goes
    // straight into the answer's exchange-heap buffer, a write straight from
    // the request's: the kernel's copy is the only one.
    [[nodiscard]] milk::Result<void> read(std::uint64_t block, std::span<std::byte> into) const {
        std::size_t done = 0;
        while (done < into.size()) {
            const ssize_t got = ::pread(m_fd, into.data() + done, into.size() - done, offset_of(block) + static_cast<off_t>(done));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return milk::Error{milk::ErrorCode::SystemError, "blk_file: pread failed", errno};
            // The file was cut short under us (it was grown at open): what
            // is gone reads as zeros, as a hole does.
            if (got == 0) {
                for (std::size_t i = done; i < into.size(); ++i) into[i] = std::byte{0};
                break;
            }
            done += static_cast<std::size_t>(got);
        }
        return {};
    }
    [[nodiscard]] milk::Result<void> write(std::uint64_t block, std::span<const std::byte> data) {
        std::size_t done = 0;
        while (done < data.size()) {
            const ssize_t put = ::pwrite(m_fd, data.data() + done, data.size() - done, offset_of(block) + static_cast<off_t>(done));
            if (put < 0 && errno == EINTR) continue;
            if (put <= 0) return milk::Error{milk::ErrorCode::SystemError, "blk_file: pwrite failed", errno};
            done += static_cast<std::size_t>(put);
        }
        return {};
    }
    // A discarded range reads as zeros afterwards (the contract's promise,
    // as blk_ram keeps it): a punched hole where the file system has them,
    // zeros written where it has not.
    [[nodiscard]] milk::Result<void> discard(std::uint64_t block, std::uint64_t count) {
        const off_t length = static_cast<off_t>(count * m_block_size);
        if (::fallocate(m_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset_of(block), length) == 0) return {};
        if (errno != EOPNOTSUPP && errno != ENODEV)
            return milk::Error{milk::ErrorCode::SystemError, "blk_file: punching a hole failed", errno};
        static constexpr std::byte zeros[4096] = {};
        for (std::uint64_t i = 0; i < count; ++i)
            MILK_TRY(write(block + i, std::span<const std::byte>(zeros, m_block_size)));
        return {};
    }
    // What was written reaches the disk under the file: the device's flush
    // (and FUA) means exactly that.
    [[nodiscard]] milk::Result<void> flush() {
        if (::fdatasync(m_fd) != 0) return milk::Error{milk::ErrorCode::SystemError, "blk_file: fdatasync failed", errno};
        return {};
    }

private:
    FileStore(int fd, std::uint64_t blocks, std::uint32_t block_size) : m_fd(fd), m_blocks(blocks), m_block_size(block_size) {}

    [[nodiscard]] off_t offset_of(std::uint64_t block) const { return static_cast<off_t>(block * m_block_size); }
    void close_fd() {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = -1;
    }

    int m_fd = -1;
    std::uint64_t m_blocks = 0;
    std::uint32_t m_block_size = 0;
};

// blk_file's name, placements and settings: blk_ram's, and `path`, the
// file (text; required).
struct FileStoreKind {
    using Store = FileStore;
    static constexpr const char* name = "blk_file";
    static constexpr milk::PlacementSet placements{milk::Placement::Inproc, milk::Placement::Process};
    static constexpr milk::SettingNames setting_names{"path", "blocks", "block_size", "max_depth"};
    static constexpr milk::SettingNames text_setting_names{"path"};
    [[nodiscard]] static milk::Result<FileStore> try_create(const milk::Settings& settings, std::uint64_t blocks,
                                                           std::uint32_t block_size) {
        const auto path = settings.find_text("path");
        if (!path || path->empty())
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk_file: the setting `path` (a file) is required", 0};
        return FileStore::try_open(std::string(*path), blocks, block_size);
    }
};

using FileBlockService = BlockService<FileStoreKind>;
static_assert(milk::Component<FileBlockService>);

}  // namespace components::blk
