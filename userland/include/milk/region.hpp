// milk::Region: a page-aligned memory mapping that holds one channel's shared
// state (control block, rings, exchange heap).
//
// The inproc transport maps anonymous memory; the process transport maps a
// memfd the two processes share (try_map_shared). Everything stored inside a region is
// an offset or a plain value, never a pointer, so a region works at any
// address. Regions are shared by reference count: both ends of a channel and
// every buffer that points into it keep it mapped.
#pragma once

#include "result.hpp"

#include <cstddef>
#include <memory>

namespace milk {

class Region {
public:
    // Fresh zero-filled anonymous memory of at least `bytes` (rounded up to
    // whole pages; pages are only backed once touched).
    [[nodiscard]] static Result<std::shared_ptr<Region>> try_create_anonymous(std::size_t bytes);

    // `bytes` (rounded up to whole pages) of the file behind `fd`, from
    // `file_offset` (a multiple of the page size), mapped shared: what one
    // process writes the other sees. The caller checks first that the file
    // is that large and cannot shrink (a sealed memfd): touching a page past
    // the end of a file raises SIGBUS. The fd may be closed afterwards; the
    // mapping stays.
    [[nodiscard]] static Result<std::shared_ptr<Region>> try_map_shared(int fd, std::size_t file_offset,
                                                                      std::size_t bytes);

    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
    ~Region();

    [[nodiscard]] std::byte* base() const { return m_base; }
    [[nodiscard]] std::size_t size() const { return m_size; }

private:
    Region(std::byte* base, std::size_t size) : m_base(base), m_size(size) {}

    std::byte* m_base;
    std::size_t m_size;
};

}  // namespace milk
