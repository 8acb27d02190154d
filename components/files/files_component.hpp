// The files component: the server of contracts/files.contract, a file service
// over one in-memory file table per channel, in the style of Singularity's
// channel contracts.
//
// One source for every placement: a thread of the host's process, a process
// of its own, or milk.ko, which runs its step for each request the kernel has
// validated. So it uses only what the freestanding runtime has: the
// generated endpoints, milk::Buffer, milk::Result, operator new and
// <cstring>; no std::map, std::string or <algorithm>.
#pragma once

#include "files.hpp"  // generated from contracts/files.contract

#include <milk/component.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <utility>

namespace components::files {

namespace FileService = examples::files::FileService;
using examples::files::FileError;

using FileServerReady = FileService::Server<FileService::state::Ready>;

// The files the server serves and the handles the client holds: one file,
// "/motd", growing up to 64 KiB, and up to 16 open handles.
class FileTable {
public:
    static constexpr std::size_t max_file_size = std::size_t{64} * 1024;
    static constexpr std::size_t max_handles = 16;

    FileTable() = default;
    FileTable(const FileTable&) = delete;
    FileTable& operator=(const FileTable&) = delete;
    // Movable, so that a component holding a table can be returned from
    // try_create: the contents change hands, the moved-from table is empty.
    FileTable(FileTable&& other) noexcept { take(other); }
    FileTable& operator=(FileTable&& other) noexcept {
        if (this != &other) {
            delete[] m_contents;
            take(other);
        }
        return *this;
    }
    ~FileTable() { delete[] m_contents; }

    // The handle of a new open of `path`, 0 when there is no such file, or
    // nullopt when every handle is taken. The path's bytes may be shared
    // memory the client still writes: they are compared once.
    std::optional<std::uint32_t> open(std::span<const std::byte> path) {
        if (path.size() != sizeof(motd_path) - 1 || std::memcmp(path.data(), motd_path, path.size()) != 0) return 0;
        if (!m_filled && !fill()) return std::nullopt;
        for (std::uint32_t& slot : m_handles) {
            if (slot != 0) continue;
            slot = m_next_handle++;
            return slot;
        }
        return std::nullopt;
    }

    [[nodiscard]] bool is_open(std::uint32_t handle) const {
        for (std::uint32_t open : m_handles)
            if (open != 0 && open == handle) return true;
        return false;
    }

    bool close(std::uint32_t handle) {
        for (std::uint32_t& slot : m_handles) {
            if (slot == 0 || slot != handle) continue;
            slot = 0;
            return true;
        }
        return false;
    }

    [[nodiscard]] std::span<const std::byte> contents() const { return {m_contents, m_size}; }

    // Writes `data` at `offset` (offset <= size, offset + data.size() <=
    // max_file_size: the caller checked). False when memory runs out. The
    // data is copied out of shared memory once, straight into the file.
    bool write(std::size_t offset, std::span<const std::byte> data) {
        const std::size_t end = offset + data.size();
        if (!grow(end)) return false;
        if (!data.empty()) std::memcpy(m_contents + offset, data.data(), data.size());
        if (end > m_size) m_size = end;
        return true;
    }

    // The table's state, in the snapshot format (snapshot.hpp): whether the
    // file was created, the next handle, the open handles, the contents.
    [[nodiscard]] milk::Result<void> snapshot(milk::SnapshotWriter& out) const {
        out.put_u8(m_filled ? 1 : 0);
        out.put_u32(m_next_handle);
        for (std::uint32_t handle : m_handles) out.put_u32(handle);
        out.put_bytes(contents());
        return {};
    }

    // A table from a snapshot, checked like any untrusted input: a table
    // this code could not have reached is refused, not patched up.
    [[nodiscard]] static milk::Result<FileTable> restore(milk::SnapshotReader& in) {
        FileTable table;
        const std::uint8_t filled = MILK_TRY(in.u8());
        if (filled > 1) return bad("files: snapshot's 'filled' is not a bool", filled);
        table.m_next_handle = MILK_TRY(in.u32());
        if (table.m_next_handle == 0) return bad("files: snapshot's next handle is 0", 0);
        for (std::size_t i = 0; i < max_handles; ++i) {
            const std::uint32_t handle = MILK_TRY(in.u32());
            // Handles are handed out counting up from 1, each once.
            if (handle >= table.m_next_handle) return bad("files: snapshot holds a handle never handed out", handle);
            for (std::size_t j = 0; j < i && handle != 0; ++j)
                if (table.m_handles[j] == handle) return bad("files: snapshot holds a handle twice", handle);
            table.m_handles[i] = handle;
        }
        const std::span<const std::byte> contents = MILK_TRY(in.bytes(max_file_size));
        if (filled == 0 && !contents.empty()) return bad("files: snapshot has contents but no file", 0);
        if (filled == 1 && !table.write(0, contents)) return milk::Error{milk::ErrorCode::OutOfMemory, "files: restore", 0};
        table.m_filled = filled == 1;
        return table;
    }

private:
    static constexpr char motd_path[] = "/motd";

    static milk::Error bad(const char* what, std::int64_t detail) {
        return milk::Error{milk::ErrorCode::ProtocolViolation, what, detail};
    }

    void take(FileTable& other) noexcept {
        m_contents = other.m_contents;
        m_size = other.m_size;
        m_capacity = other.m_capacity;
        for (std::size_t i = 0; i < max_handles; ++i) m_handles[i] = other.m_handles[i];
        m_next_handle = other.m_next_handle;
        m_filled = other.m_filled;
        other.m_contents = nullptr;
        other.m_size = 0;
        other.m_capacity = 0;
        for (std::uint32_t& handle : other.m_handles) handle = 0;
        other.m_filled = false;
    }
    static constexpr char motd_text[] = "Hello from the file server.";

    bool fill() {
        if (!grow(sizeof(motd_text) - 1)) return false;
        std::memcpy(m_contents, motd_text, sizeof(motd_text) - 1);
        m_size = sizeof(motd_text) - 1;
        m_filled = true;
        return true;
    }

    bool grow(std::size_t size) {
        if (size <= m_capacity) return true;
        std::size_t capacity = m_capacity == 0 ? 64 : m_capacity;
        while (capacity < size) capacity *= 2;
        auto* contents = new (std::nothrow) std::byte[capacity];
        if (contents == nullptr) return false;
        if (m_size > 0) std::memcpy(contents, m_contents, m_size);
        delete[] m_contents;
        m_contents = contents;
        m_capacity = capacity;
        return true;
    }

    std::byte* m_contents = nullptr;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0;
    std::uint32_t m_handles[max_handles] = {};
    std::uint32_t m_next_handle = 1;
    bool m_filled = false;
};

// One function per request. Each sends one of the replies the contract
// allows in its state, and so returns the endpoint for the next request.
inline milk::Result<FileServerReady> answer(FileTable& table, const FileService::Open& open,
                                            FileService::Server<FileService::state::Opening>&& opening) {
    auto handle = table.open(open.path.bytes());
    if (!handle) return std::move(opening).send(FileService::Failed{FileError::no_space});
    if (*handle == 0) return std::move(opening).send(FileService::Failed{FileError::not_found});
    return std::move(opening).send(FileService::Opened{*handle});
}

inline milk::Result<FileServerReady> answer(FileTable& table, const FileService::Read& read,
                                            FileService::Server<FileService::state::Reading>&& reading) {
    if (!table.is_open(read.handle)) return std::move(reading).send(FileService::Failed{FileError::bad_handle});
    if (read.length == 0) return std::move(reading).send(FileService::Failed{FileError::out_of_range});
    std::span<const std::byte> file = table.contents();
    if (read.offset >= file.size()) return std::move(reading).send(FileService::Eof{});

    const std::size_t left = file.size() - static_cast<std::size_t>(read.offset);
    const std::size_t length = read.length < left ? read.length : left;
    // The data goes out in a buffer of the exchange heap: the client gets
    // this very memory, not a copy of it.
    auto data = reading.allocate(length);
    if (!data) return data.error();
    std::memcpy(data.value().data(), file.data() + read.offset, length);
    return std::move(reading).send(FileService::Data{std::move(data).value()});
}

inline milk::Result<FileServerReady> answer(FileTable& table, const FileService::Write& write,
                                            FileService::Server<FileService::state::Writing>&& writing) {
    if (!table.is_open(write.handle)) return std::move(writing).send(FileService::Failed{FileError::bad_handle});
    if (write.offset > table.contents().size())
        return std::move(writing).send(FileService::Failed{FileError::out_of_range});
    std::span<const std::byte> data = write.data.bytes();
    if (write.offset + data.size() > FileTable::max_file_size || !table.write(write.offset, data))
        return std::move(writing).send(FileService::Failed{FileError::no_space});
    return std::move(writing).send(FileService::Written{static_cast<std::uint32_t>(data.size())});
}

inline milk::Result<FileServerReady> answer(FileTable& table, const FileService::Close& close,
                                            FileService::Server<FileService::state::Closing>&& closing) {
    if (!table.close(close.handle)) return std::move(closing).send(FileService::Failed{FileError::bad_handle});
    return std::move(closing).send(FileService::Closed{});
}

// Handles one request in Ready: the endpoint for the next one, or nothing
// after Bye (the session is over).
inline milk::Result<std::optional<FileServerReady>> serve_one(FileTable& table, FileServerReady&& server) {
    // In Ready the client speaks: one handler per message it may send. Bye
    // ends the channel, so its handler gets no endpoint.
    using Next = std::optional<milk::Result<FileServerReady>>;
    auto next = std::move(server).receive(
        [&](FileService::Open&& request, FileService::Server<FileService::state::Opening>&& reply) {
            return Next{answer(table, request, std::move(reply))};
        },
        [&](FileService::Read&& request, FileService::Server<FileService::state::Reading>&& reply) {
            return Next{answer(table, request, std::move(reply))};
        },
        [&](FileService::Write&& request, FileService::Server<FileService::state::Writing>&& reply) {
            return Next{answer(table, request, std::move(reply))};
        },
        [&](FileService::Close&& request, FileService::Server<FileService::state::Closing>&& reply) {
            return Next{answer(table, request, std::move(reply))};
        },
        [](FileService::Bye&&) { return Next{}; });
    if (!next) return next.error();  // the client went away without Bye
    Next& answered = next.value();
    if (!answered) return std::optional<FileServerReady>{};  // Bye
    if (!answered->ok()) return answered->error();          // the reply could not be sent
    return std::optional<FileServerReady>{std::move(*answered).value()};
}

// The component: a step per request, over the channel's own file table.
class Files {
public:
    using Contract = FileService::Contract;
    static constexpr const char* name = "files";
    static constexpr milk::PlacementSet placements = milk::every_placement;
    // The table lives as long as the channel, and moves with it (its
    // snapshot: FileTable::snapshot).
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateful;
    static constexpr std::uint16_t snapshot_version = 1;
    static constexpr milk::SettingNames setting_names{};

    [[nodiscard]] static milk::Result<Files> try_create(const milk::Settings& /*settings*/) { return Files{}; }

    [[nodiscard]] milk::Result<void> snapshot(milk::SnapshotWriter& out) const { return m_table.snapshot(out); }
    [[nodiscard]] static milk::Result<Files> restore(const milk::Settings& /*settings*/, milk::SnapshotReader& in) {
        Files files;
        files.m_table = MILK_TRY(FileTable::restore(in));
        return files;
    }

    [[nodiscard]] milk::Result<std::optional<FileServerReady>> step(FileServerReady&& server) {
        return serve_one(m_table, std::move(server));
    }

private:
    FileTable m_table;
};

static_assert(milk::StepComponent<Files>);

}  // namespace components::files
