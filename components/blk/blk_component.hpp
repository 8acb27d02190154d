// The block service: the server of contracts/blk.contract, a block store
// that a block device's driver (milk.ko's blk-mq device, or any program)
// sends its requests to, wherever the host placed the service.
//
// `blk_ram` keeps the blocks in memory, for the channel's life (a RAM
// disk whose contents go with its session, as brd's go with the module);
// `blk_file` (blk_file_component.hpp, user space only) in a file.
//
// One source for every placement, like the other components: only the
// freestanding runtime (generated endpoints, milk::Buffer, milk::Result,
// milk::FixedArray, operator new, <cstring>).
#pragma once

#include "blk.hpp"  // generated from contracts/blk.contract

#include <milk/component.hpp>
#include <milk/fixed_array.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <utility>

// GCC 12 reports the std::optional<endpoint> locals below as maybe used
// uninitialized when it inlines the endpoints' moves (GCC bug 80635, as in
// policy/batch_client.hpp). The endpoints are moved in and out only while
// engaged; the warning is off for this header alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace components::blk {

namespace Blk = milk::blk::Blk;
using milk::blk::BlkStatus;

using ServerStart = Blk::Server<Blk::state::Start>;
using ServerGreeting = Blk::Server<Blk::state::Greeting>;
using ServerIdle = Blk::Server<Blk::state::Idle>;
using ServerQueued = Blk::Server<Blk::state::Queued>;
using ServerServing = Blk::Server<Blk::state::Serving>;

// Whether blocks `block` to `block + count - 1` exist on a device of
// `blocks` blocks (and count > 0): what the service checks of every request
// before its store sees it.
[[nodiscard]] constexpr bool within(std::uint64_t blocks, std::uint64_t block, std::uint64_t count) {
    return count > 0 && block < blocks && count <= blocks - block;
}

// The device's blocks, in memory. Owns them; moves, never copies.
class RamStore {
public:
    RamStore() = default;
    RamStore(RamStore&& other) noexcept
        : m_data(std::exchange(other.m_data, nullptr)), m_blocks(other.m_blocks), m_block_size(other.m_block_size) {}
    RamStore& operator=(RamStore&& other) noexcept {
        if (this != &other) {
            delete[] m_data;
            m_data = std::exchange(other.m_data, nullptr);
            m_blocks = other.m_blocks;
            m_block_size = other.m_block_size;
        }
        return *this;
    }
    RamStore(const RamStore&) = delete;
    RamStore& operator=(const RamStore&) = delete;
    ~RamStore() { delete[] m_data; }

    // Zeroed, as a fresh RAM disk reads.
    [[nodiscard]] static milk::Result<RamStore> try_create(std::uint64_t blocks, std::uint32_t block_size) {
        RamStore store;
        store.m_data = new (std::nothrow) std::byte[blocks * block_size]();
        if (store.m_data == nullptr)
            return milk::Error{milk::ErrorCode::OutOfMemory, "blk: no memory for the blocks", static_cast<std::int64_t>(blocks)};
        store.m_blocks = blocks;
        store.m_block_size = block_size;
        return store;
    }

    [[nodiscard]] std::uint64_t blocks() const { return m_blocks; }
    [[nodiscard]] std::uint32_t block_size() const { return m_block_size; }
    // What BlockService calls, with ranges it has checked (within): a read
    // into its answer's buffer, a write from its request's, both in the
    // exchange heap. The data may be shared memory the client still writes:
    // it is copied once, straight into the blocks.
    [[nodiscard]] milk::Result<void> read(std::uint64_t block, std::span<std::byte> into) const {
        std::memcpy(into.data(), m_data + block * m_block_size, into.size());
        return {};
    }
    [[nodiscard]] milk::Result<void> write(std::uint64_t block, std::span<const std::byte> data) {
        std::memcpy(m_data + block * m_block_size, data.data(), data.size());
        return {};
    }
    [[nodiscard]] milk::Result<void> discard(std::uint64_t block, std::uint64_t count) {
        std::memset(m_data + block * m_block_size, 0, count * m_block_size);
        return {};
    }

    // The store called directly by milk.ko's block device (DirectStore):
    // byte ranges, as the block layer's requests come (512-byte sectors,
    // whatever the block size). The device checks each range first; the
    // store checks again, since a range outside it would be memory
    // corruption.
    [[nodiscard]] milk::Result<void> read_bytes(std::uint64_t offset, std::span<std::byte> into) const {
        MILK_TRY(check_range(offset, into.size()));
        std::memcpy(into.data(), m_data + offset, into.size());
        return {};
    }
    [[nodiscard]] milk::Result<void> write_bytes(std::uint64_t offset, std::span<const std::byte> from) {
        MILK_TRY(check_range(offset, from.size()));
        std::memcpy(m_data + offset, from.data(), from.size());
        return {};
    }
    [[nodiscard]] milk::Result<void> discard_bytes(std::uint64_t offset, std::uint64_t bytes) {
        MILK_TRY(check_range(offset, bytes));
        std::memset(m_data + offset, 0, bytes);
        return {};
    }
    // Memory keeps nothing back: a flush has nothing to write.
    [[nodiscard]] milk::Result<void> flush() { return {}; }

private:
    [[nodiscard]] milk::Result<void> check_range(std::uint64_t offset, std::uint64_t bytes) const {
        const std::uint64_t size = m_blocks * m_block_size;
        if (offset > size || bytes > size - offset)
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: a range outside the device",
                               static_cast<std::int64_t>(offset)};
        return {};
    }

    std::byte* m_data = nullptr;
    std::uint64_t m_blocks = 0;
    std::uint32_t m_block_size = 0;
};

// blk_ram: a RAM disk. What BlockService needs of a store, beside the
// calls above: the component's name, placements and settings, and a
// factory from the settings every store reads (blocks, block_size).
struct RamStoreKind {
    using Store = RamStore;
    static constexpr const char* name = "blk_ram";
    static constexpr milk::PlacementSet placements = milk::every_placement;
    static constexpr milk::SettingNames setting_names{"blocks", "block_size", "max_depth"};
    [[nodiscard]] static milk::Result<RamStore> try_create(const milk::Settings&, std::uint64_t blocks,
                                                          std::uint32_t block_size) {
        return RamStore::try_create(blocks, block_size);
    }
};

// The limits a service takes unless its settings say otherwise: 32 MiB of
// 4 KiB blocks, a queue of 128.
inline constexpr std::int64_t default_blocks = 8192;
inline constexpr std::int64_t default_block_size = 4096;
inline constexpr std::int64_t default_max_depth = 128;
inline constexpr std::int64_t most_depth = 4096;
// The most blocks one read may ask for (1 MiB of 4 KiB blocks): a read's
// blocks go back in one exchange-heap buffer.
inline constexpr std::uint32_t max_blocks_per_read = 256;

// One request of the batch, answered at Submit. A write, flush or discard
// is done when it arrives (its status kept); a read is done at Submit, when
// its blocks can go straight into the buffer of its answer. Requests of one
// batch are in flight together: a read that overlaps a write of the same
// batch may see the write or not, as on any block device.
struct Pending {
    std::uint32_t tag = 0;
    bool read = false;
    std::uint64_t block = 0;
    std::uint32_t count = 0;
    BlkStatus status = BlkStatus::ok;
};

// Which batch last used each tag (0: none yet): a tag twice in one batch
// breaks the contract (its answers could not be told apart).
struct TagUse {
    std::uint64_t batch = 0;
};

// The block service over a store (RamStoreKind, or FileStoreKind in
// blk_file_component.hpp): one implementation of the contract's server, the
// store's calls the only difference. The store's settings are read by the
// store's kind; blocks, block_size and max_depth here.
template <typename Kind>
class BlockService {
public:
    using Store = typename Kind::Store;
    using Contract = Blk::Contract;
    static constexpr const char* name = Kind::name;
    static constexpr milk::PlacementSet placements = Kind::placements;
    // The blocks live in the store (memory for the channel's life, or a
    // file): nothing to move with the component.
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateless;
    static constexpr milk::SettingNames setting_names = Kind::setting_names;
    static constexpr milk::SettingNames text_setting_names = milk::text_setting_names_of<Kind>();

    [[nodiscard]] static milk::Result<BlockService> try_create(const milk::Settings& settings) {
        const std::int64_t block_size = settings.get_or("block_size", default_block_size);
        if (block_size != 512 && block_size != 4096)
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: `block_size` must be 512 or 4096", block_size};
        const std::int64_t blocks = settings.get_or("blocks", default_blocks);
        if (blocks < 1 || blocks * block_size > (std::int64_t{1} << 32))
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: `blocks` must be 1 to 4 GiB of blocks", blocks};
        const std::int64_t max_depth = settings.get_or("max_depth", default_max_depth);
        if (max_depth < 1 || max_depth > most_depth)
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: `max_depth` must be 1 to 4096", max_depth};
        auto store = MILK_TRY(Kind::try_create(settings, static_cast<std::uint64_t>(blocks), static_cast<std::uint32_t>(block_size)));
        return BlockService(std::move(store), static_cast<std::uint32_t>(max_depth));
    }

    // Hello, then Welcome with the device (or Refused for a queue of 0 or
    // beyond 4096), then batches until Bye.
    [[nodiscard]] milk::Result<void> serve(ServerStart&& server) {
        struct Greeted {
            std::uint32_t depth;
            std::optional<ServerGreeting> greeting;
        };
        auto greeted = MILK_TRY(std::move(server).receive(
            [](Blk::Hello&& hello, ServerGreeting&& next) { return Greeted{hello.depth, std::move(next)}; }));
        if (greeted.depth < 1 || greeted.depth > most_depth) {
            auto refused = std::move(*greeted.greeting).send(Blk::Refused{m_max_depth});
            return refused.ok() ? milk::Result<void>{} : milk::Result<void>{refused.error()};
        }
        const std::uint32_t depth = greeted.depth < m_max_depth ? greeted.depth : m_max_depth;
        auto pending = MILK_TRY(milk::FixedArray<Pending>::try_create(depth, milk::FixedArray<Pending>::Fill::Zero));
        auto tags = MILK_TRY(milk::FixedArray<TagUse>::try_create(depth, milk::FixedArray<TagUse>::Fill::Zero));
        auto idle = MILK_TRY(std::move(*greeted.greeting).send(Blk::Welcome{m_store.blocks(), m_store.block_size(), depth}));
        return serve_batches(std::move(idle), pending, tags);
    }

    // What the last channel did.
    [[nodiscard]] std::uint64_t batches() const { return m_batches; }

    // Without a channel: milk.ko's block device calls the store directly
    // when the host places the service in the kernel (docs/blk.md).
    using DirectStore = Store;
    [[nodiscard]] Store direct_store() && { return std::move(m_store); }

private:
    BlockService(Store store, std::uint32_t max_depth) : m_store(std::move(store)), m_max_depth(max_depth) {}

    // One receive in Idle or Queued: the next endpoint, whichever state it
    // is in, or none after Bye.
    struct Next {
        std::optional<ServerQueued> queued;
        std::optional<ServerServing> serving;
    };

    milk::Result<void> serve_batches(ServerIdle&& first, milk::FixedArray<Pending>& pending, milk::FixedArray<TagUse>& tags) {
        std::optional<ServerIdle> idle{std::move(first)};
        for (;;) {
            ++m_batches;
            std::size_t count = 0;
            milk::Result<void> taken{};
            auto take = [&](Pending request) {
                // More requests than the queue: the client broke the
                // contract's rule (the depth it agreed to).
                if (count == pending.size()) {
                    taken = milk::Error{milk::ErrorCode::ProtocolViolation, "blk: more requests in a batch than its depth",
                                        static_cast<std::int64_t>(count)};
                    return;
                }
                if (request.tag >= pending.size()) {
                    taken = milk::Error{milk::ErrorCode::ProtocolViolation, "blk: a tag beyond the queue's depth", request.tag};
                    return;
                }
                if (tags[request.tag].batch == m_batches) {
                    taken = milk::Error{milk::ErrorCode::ProtocolViolation, "blk: a tag twice in one batch", request.tag};
                    return;
                }
                tags[request.tag].batch = m_batches;
                pending[count++] = request;
            };
            auto started = MILK_TRY(std::move(*idle).receive(
                [&](Blk::Read&& read, ServerQueued&& next) {
                    take(on_read(read));
                    return Next{std::move(next), std::nullopt};
                },
                [&](Blk::Write&& write, ServerQueued&& next) {
                    take(on_write(write));
                    return Next{std::move(next), std::nullopt};
                },
                [&](Blk::Flush&& flush, ServerQueued&& next) {
                    take(on_flush(flush));
                    return Next{std::move(next), std::nullopt};
                },
                [&](Blk::Discard&& discard, ServerQueued&& next) {
                    take(on_discard(discard));
                    return Next{std::move(next), std::nullopt};
                },
                [](Blk::Bye&&) { return Next{}; }));
            idle.reset();
            if (!started.queued) return {};  // Bye
            if (!taken.ok()) return std::move(*started.queued).fail(taken.error());
            std::optional<ServerQueued> queued = std::move(started.queued);
            std::optional<ServerServing> serving;
            while (queued) {
                auto next = MILK_TRY(std::move(*queued).receive(
                    [&](Blk::Read&& read, ServerQueued&& more) {
                        take(on_read(read));
                        return Next{std::move(more), std::nullopt};
                    },
                    [&](Blk::Write&& write, ServerQueued&& more) {
                        take(on_write(write));
                        return Next{std::move(more), std::nullopt};
                    },
                    [&](Blk::Flush&& flush, ServerQueued&& more) {
                        take(on_flush(flush));
                        return Next{std::move(more), std::nullopt};
                    },
                    [&](Blk::Discard&& discard, ServerQueued&& more) {
                        take(on_discard(discard));
                        return Next{std::move(more), std::nullopt};
                    },
                    [&](Blk::Submit&&, ServerServing&& answer) { return Next{std::nullopt, std::move(answer)}; }));
                if (!taken.ok()) {
                    if (next.queued) return std::move(*next.queued).fail(taken.error());
                    return std::move(*next.serving).fail(taken.error());
                }
                queued = std::move(next.queued);
                serving = std::move(next.serving);
            }
            idle.emplace(MILK_TRY(answer(std::move(*serving), std::span<const Pending>(pending.data(), count))));
        }
    }

    [[nodiscard]] Pending on_read(const Blk::Read& read) const {
        Pending request{read.tag, true, read.block, read.count, BlkStatus::ok};
        if (!within(m_store.blocks(), read.block, read.count)) request.status = BlkStatus::out_of_range;
        else if (read.count > max_blocks_per_read) request.status = BlkStatus::bad_request;
        return request;
    }

    Pending on_write(const Blk::Write& write) {
        const std::span<const std::byte> data = write.data.bytes();
        const std::uint32_t block_size = m_store.block_size();
        if (data.empty() || data.size() % block_size != 0) return Pending{write.tag, false, 0, 0, BlkStatus::bad_request};
        if (!within(m_store.blocks(), write.block, data.size() / block_size))
            return Pending{write.tag, false, 0, 0, BlkStatus::out_of_range};
        // A store that fails (a file's write) fails this request alone.
        const BlkStatus status = m_store.write(write.block, data).ok() ? BlkStatus::ok : BlkStatus::io_error;
        return Pending{write.tag, false, 0, 0, status};
    }

    Pending on_discard(const Blk::Discard& discard) {
        if (!within(m_store.blocks(), discard.block, discard.count)) return Pending{discard.tag, false, 0, 0, BlkStatus::out_of_range};
        const BlkStatus status = m_store.discard(discard.block, discard.count).ok() ? BlkStatus::ok : BlkStatus::io_error;
        return Pending{discard.tag, false, 0, 0, status};
    }

    // Everything written before it, in this batch and earlier ones, is
    // durable when its Done says ok (the store's flush: fdatasync for a
    // file, nothing for memory).
    Pending on_flush(const Blk::Flush& flush) {
        return Pending{flush.tag, false, 0, 0, m_store.flush().ok() ? BlkStatus::ok : BlkStatus::io_error};
    }

    // Every request's answer, in the order they came, then Completed.
    milk::Result<ServerIdle> answer(ServerServing&& first, std::span<const Pending> requests) {
        std::optional<ServerServing> serving{std::move(first)};
        for (const Pending& request : requests) {
            BlkStatus status = request.status;
            if (request.read && status == BlkStatus::ok) {
                // The blocks go straight into the answer's exchange-heap
                // buffer; a store that fails answers Done(io_error) instead,
                // and the unsent buffer goes back to the heap.
                auto data = MILK_TRY(serving->allocate(std::size_t{request.count} * m_store.block_size()));
                if (m_store.read(request.block, data.bytes()).ok()) {
                    auto next = MILK_TRY(std::move(*serving).send(Blk::ReadDone{request.tag, std::move(data)}));
                    serving.emplace(std::move(next));
                    continue;
                }
                status = BlkStatus::io_error;
            }
            auto next = MILK_TRY(std::move(*serving).send(Blk::Done{request.tag, status}));
            serving.emplace(std::move(next));
        }
        return std::move(*serving).send(Blk::Completed{});
    }

    Store m_store;
    std::uint32_t m_max_depth;
    std::uint64_t m_batches = 0;
};

using RamBlockService = BlockService<RamStoreKind>;
static_assert(milk::Component<RamBlockService>);

}  // namespace components::blk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
