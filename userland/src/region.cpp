// milk::Region over mmap: anonymous memory, or a shared file (memfd).
#include "milk/region.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/mman.h>
#include <unistd.h>

namespace milk {

Result<std::shared_ptr<Region>> Region::try_create_anonymous(std::size_t bytes) {
    if (bytes == 0) return Error{ErrorCode::InvalidArgument, "a region cannot be empty", 0};
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    if (bytes > SIZE_MAX - page) return Error{ErrorCode::InvalidArgument, "region size overflows", 0};
    const std::size_t size = (bytes + page - 1) / page * page;
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return Error{ErrorCode::SystemError, "mmap of a channel region failed", errno};
    return std::shared_ptr<Region>(new Region(static_cast<std::byte*>(base), size));
}

Result<std::shared_ptr<Region>> Region::try_map_shared(int fd, std::size_t file_offset, std::size_t bytes) {
    if (bytes == 0) return Error{ErrorCode::InvalidArgument, "a region cannot be empty", 0};
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    if (bytes > SIZE_MAX - page) return Error{ErrorCode::InvalidArgument, "region size overflows", 0};
    if (file_offset % page != 0 || file_offset > static_cast<std::size_t>(INT64_MAX))
        return Error{ErrorCode::InvalidArgument, "a shared region must start on a page boundary of its file",
                     static_cast<std::int64_t>(file_offset)};
    const std::size_t size = (bytes + page - 1) / page * page;
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(file_offset));
    if (base == MAP_FAILED) return Error{ErrorCode::SystemError, "mmap of a shared channel region failed", errno};
    return std::shared_ptr<Region>(new Region(static_cast<std::byte*>(base), size));
}

Region::~Region() { munmap(m_base, m_size); }

}  // namespace milk
