// The file-server example's server (examples/file-server/files.contract)
// inside the kernel: the same files, the same answers as the in-process
// example's FileTable, so the example's client code runs against it
// unchanged. Each channel has its own table, with "/motd" in it.
//
// Freestanding: no std::map or std::string. One file, a few handles, and
// the file's contents in a kmalloc'd buffer that grows up to 64 KiB.
#include "component.hpp"

#include "files.kstub.h"

#include <cstring>
#include <new>

namespace milk::kernel {
namespace {

constexpr char motd_path[] = "/motd";
constexpr char motd_text[] = "Hello from the file server.";

class FileServer final : public Component {
public:
    static constexpr std::uint32_t max_file_size = 64 * 1024;
    static constexpr std::uint32_t max_handles = 16;
    static constexpr std::uint32_t max_path = 256;

    FileServer() = default;
    FileServer(const FileServer&) = delete;
    FileServer& operator=(const FileServer&) = delete;
    ~FileServer() override { delete[] m_contents; }

    [[nodiscard]] Result<void> fill() {
        if (auto grown = grow(sizeof(motd_text) - 1); !grown.ok()) return grown;
        std::memcpy(m_contents, motd_text, sizeof(motd_text) - 1);
        m_size = sizeof(motd_text) - 1;
        return {};
    }

    Result<void> on_message(const void* message, ChannelContext& channel) override {
        const auto& received = *static_cast<const examples_files_FileService*>(message);
        switch (received.tag) {
        case examples_files_FileService_tag_Open: return open(received.body.Open, channel);
        case examples_files_FileService_tag_Read: return read(received.body.Read, channel);
        case examples_files_FileService_tag_Write: return write(received.body.Write, channel);
        case examples_files_FileService_tag_Close: return close(received.body.Close, channel);
        default: return {};  // Bye: the protocol is at `end`
        }
    }

private:
    static Result<void> failed(ChannelContext& channel, milk_ku8 error) {
        const examples_files_FileService__Failed reply{error};
        return channel.send(examples_files_FileService_tag_Failed, reply);
    }

    [[nodiscard]] bool is_open(milk_ku32 handle) const {
        for (milk_ku32 open : m_handles)
            if (open != 0 && open == handle) return true;
        return false;
    }

    Result<void> grow(std::uint32_t size) {
        if (size <= m_capacity) return {};
        std::uint32_t capacity = m_capacity == 0 ? 64 : m_capacity;
        while (capacity < size) capacity *= 2;
        auto* contents = new (std::nothrow) std::byte[capacity];
        if (contents == nullptr) return Error{ErrorCode::OutOfMemory, "kmalloc of a file failed", capacity};
        if (m_size > 0) std::memcpy(contents, m_contents, m_size);
        delete[] m_contents;
        m_contents = contents;
        m_capacity = capacity;
        return {};
    }

    Result<void> open(const examples_files_FileService__Open& request, ChannelContext& channel) {
        // The path is copied out of shared memory once, then compared.
        char path[max_path];
        std::span<const std::byte> bytes = channel.received(request.path);
        const std::size_t length = bytes.size() < max_path ? bytes.size() : max_path;
        std::memcpy(path, bytes.data(), length);
        channel.give_back(request.path);
        const bool found = bytes.size() == sizeof(motd_path) - 1 && std::memcmp(path, motd_path, length) == 0;
        if (!found) return failed(channel, examples_files_FileError_not_found);
        for (milk_ku32& slot : m_handles) {
            if (slot != 0) continue;
            slot = m_next_handle++;
            const examples_files_FileService__Opened reply{slot};
            return channel.send(examples_files_FileService_tag_Opened, reply);
        }
        return failed(channel, examples_files_FileError_no_space);
    }

    Result<void> read(const examples_files_FileService__Read& request, ChannelContext& channel) {
        if (!is_open(request.handle)) return failed(channel, examples_files_FileError_bad_handle);
        if (request.length == 0) return failed(channel, examples_files_FileError_out_of_range);
        if (request.offset >= m_size) return channel.send(examples_files_FileService_tag_Eof, nullptr, 0);
        const std::uint64_t left = m_size - request.offset;
        const auto length = static_cast<std::uint32_t>(request.length < left ? request.length : left);
        auto data = channel.allocate(length);
        if (!data.ok()) return data.error();
        std::memcpy(data->bytes.data(), m_contents + request.offset, length);
        const examples_files_FileService__Data reply{data->handle};
        return channel.send(examples_files_FileService_tag_Data, reply);
    }

    Result<void> write(const examples_files_FileService__Write& request, ChannelContext& channel) {
        std::span<const std::byte> data = channel.received(request.data);
        Result<void> answer = {};
        if (!is_open(request.handle)) {
            answer = failed(channel, examples_files_FileError_bad_handle);
        } else if (request.offset > m_size) {
            answer = failed(channel, examples_files_FileError_out_of_range);
        } else if (request.offset + data.size() > max_file_size) {
            answer = failed(channel, examples_files_FileError_no_space);
        } else {
            const auto end = static_cast<std::uint32_t>(request.offset + data.size());
            if (auto grown = grow(end); !grown.ok()) {
                channel.give_back(request.data);
                return grown;
            }
            // One copy out of shared memory, straight into the file.
            std::memcpy(m_contents + request.offset, data.data(), data.size());
            if (end > m_size) m_size = end;
            const examples_files_FileService__Written reply{static_cast<milk_ku32>(data.size())};
            answer = channel.send(examples_files_FileService_tag_Written, reply);
        }
        channel.give_back(request.data);
        return answer;
    }

    Result<void> close(const examples_files_FileService__Close& request, ChannelContext& channel) {
        for (milk_ku32& slot : m_handles) {
            if (slot == 0 || slot != request.handle) continue;
            slot = 0;
            return channel.send(examples_files_FileService_tag_Closed, nullptr, 0);
        }
        return failed(channel, examples_files_FileError_bad_handle);
    }

    std::byte* m_contents = nullptr;
    std::uint32_t m_size = 0;
    std::uint32_t m_capacity = 0;
    milk_ku32 m_handles[max_handles] = {};
    milk_ku32 m_next_handle = 1;
};

Result<Owned<Component>> create_file_server() {
    auto server = Owned<FileServer>::try_create();
    if (!server.ok()) return server.error();
    if (auto filled = server.value()->fill(); !filled.ok()) return filled.error();
    return Owned<Component>(std::move(server).value());
}

}  // namespace

constinit const ContractEntry file_server_entry{
    "examples.files.FileService",
    1,
    [](milk_kstate* state, milk_kside side) { examples_files_FileService_init(state, side); },
    [](milk_kstate* state, const void* slot, const milk_kpool* pool, void* message, milk_kviolation* violation) {
        return examples_files_FileService_validate(state, slot, pool, static_cast<examples_files_FileService*>(message),
                                                   violation);
    },
    [](milk_kstate* state, milk_ku32 tag) { return examples_files_FileService_on_send(state, tag); },
    [](milk_ku32 tag) { return examples_files_FileService_payload_size(tag); },
    [](const void* message, milk_kbytes* out) -> std::size_t {
        const auto& received = *static_cast<const examples_files_FileService*>(message);
        switch (received.tag) {
        case examples_files_FileService_tag_Open: out[0] = received.body.Open.path; return 1;
        case examples_files_FileService_tag_Write: out[0] = received.body.Write.data; return 1;
        default: return 0;
        }
    },
    examples_files_FileService_state_end,
    examples_files_FileService_step,
    examples_files_FileService__tag_count,
    create_file_server,
};

}  // namespace milk::kernel
