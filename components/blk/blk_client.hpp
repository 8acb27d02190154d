// The driver's side of contracts/blk.contract: what a block device's driver
// (or any program) uses to talk to a block service, wherever the host placed
// it.
//
//   auto disk = MILK_TRY(BlkClient::try_connect(std::move(endpoint), 32, timeout));
//   const Request batch[] = {{RequestKind::write, 0, 8, 1, data}, {RequestKind::read, 1, 8, 1, {}}};
//   MILK_TRY(disk.submit(batch, timeout, [](std::uint32_t tag, BlkStatus status, std::span<const std::byte> data) {}));
//
// The service is a peer like any other: every answer is checked (a tag of
// the batch, answered once; a read's blocks of the length asked), and one
// that is not fails the batch with ProtocolViolation.
#pragma once

#include "blk.hpp"  // generated from contracts/blk.contract

#include <milk/fixed_array.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

namespace BlkProtocol = milk::blk::Blk;

using ClientStart = BlkProtocol::Client<BlkProtocol::state::Start>;
using ClientGreeting = BlkProtocol::Client<BlkProtocol::state::Greeting>;
using ClientIdle = BlkProtocol::Client<BlkProtocol::state::Idle>;
using ClientQueued = BlkProtocol::Client<BlkProtocol::state::Queued>;
using ClientServing = BlkProtocol::Client<BlkProtocol::state::Serving>;

enum class RequestKind : std::uint8_t { read, write, flush, discard };

// One request of a batch. `data` (a write's blocks) is copied into the
// exchange heap once, when the batch is submitted; `count` is read for a
// read and a discard. A write with no `data` has its `count` blocks
// written straight into the exchange-heap buffer by submit's `fill`
// (milk.ko's block device copies a request's pages there: no copy of its
// own in between).
struct Request {
    RequestKind kind;
    std::uint32_t tag;
    std::uint64_t block;
    std::uint32_t count;
    std::span<const std::byte> data;
};

// What the service said it is.
struct Device {
    std::uint64_t blocks = 0;
    std::uint32_t block_size = 0;
    std::uint32_t depth = 0;
};

class BlkClient {
public:
    // Hello with the queue `depth`; the device the service answers with, or
    // InvalidArgument when it refuses, or the channel's error.
    [[nodiscard]] static milk::Result<BlkClient> try_connect(ClientStart&& start, std::uint32_t depth,
                                                             std::chrono::nanoseconds timeout) {
        auto greeting = MILK_TRY(std::move(start).send(BlkProtocol::Hello{depth}));
        struct Answer {
            std::optional<ClientIdle> idle;
            Device device;
            bool refused = false;
        };
        auto answer = MILK_TRY(std::move(greeting).receive_for(
            timeout,
            [](BlkProtocol::Welcome&& welcome, ClientIdle&& idle) {
                return Answer{std::move(idle), Device{welcome.blocks, welcome.block_size, welcome.depth}, false};
            },
            [](BlkProtocol::Refused&&) { return Answer{std::nullopt, {}, true}; },
            [](milk::TimedOut, ClientGreeting&&) { return Answer{}; }));
        if (!answer.idle) {
            if (!answer.refused) return milk::Error{milk::ErrorCode::TimedOut, "blk: no answer to Hello", 0};
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: the service refused the queue", depth};
        }
        if (answer.device.depth < 1 || answer.device.depth > depth || answer.device.block_size == 0)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "blk: a device of no blocks or a queue not asked for",
                               answer.device.depth};
        auto answered = MILK_TRY(milk::FixedArray<Answered>::try_create(answer.device.depth,
                                                                         milk::FixedArray<Answered>::Fill::Zero));
        return BlkClient(std::move(*answer.idle), answer.device, std::move(answered));
    }

    [[nodiscard]] const Device& device() const { return m_device; }

    // Sends `requests` (1 to the depth, tags below it and distinct) as one
    // batch and calls `done(tag, status, data)` for each answer as it
    // comes (`data`: a read's blocks, valid during the call). Waits at most
    // `timeout` for each answer.
    template <typename Done>
    [[nodiscard]] milk::Result<void> submit(std::span<const Request> requests, std::chrono::nanoseconds timeout, Done&& done) {
        return submit(requests, timeout, std::forward<Done>(done), [](std::uint32_t, std::span<std::byte>) -> milk::Result<void> {
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: a write without its data", 0};
        });
    }

    // The same; a write without `data` gets its buffer (count blocks) from
    // the exchange heap and `fill(tag, buffer)` writes its blocks there.
    template <typename Done, typename Fill>
    [[nodiscard]] milk::Result<void> submit(std::span<const Request> requests, std::chrono::nanoseconds timeout, Done&& done,
                                            Fill&& fill) {
        if (!m_idle) return milk::Error{milk::ErrorCode::PeerClosed, "blk: the channel failed before", 0};
        if (requests.empty() || requests.size() > m_device.depth)
            return milk::Error{milk::ErrorCode::InvalidArgument, "blk: a batch of 1 to the queue's depth requests",
                               static_cast<std::int64_t>(requests.size())};
        ++m_batch;
        for (const Request& request : requests) {
            if (request.tag >= m_device.depth || m_answered[request.tag].batch == m_batch)
                return milk::Error{milk::ErrorCode::InvalidArgument, "blk: a tag beyond the depth or twice in a batch", request.tag};
            m_answered[request.tag] = Answered{m_batch, false, request.kind == RequestKind::read ? request.count : 0};
        }
        // Idle, then Queued: every request, then Submit.
        std::optional<ClientQueued> queued{MILK_TRY(send(std::move(*m_idle), requests[0], fill))};
        m_idle.reset();
        for (std::size_t i = 1; i < requests.size(); ++i) {
            auto next = MILK_TRY(send(std::move(*queued), requests[i], fill));
            queued.emplace(std::move(next));
        }
        std::optional<ClientServing> serving{MILK_TRY(std::move(*queued).send(BlkProtocol::Submit{}))};
        std::size_t answers = 0;
        for (;;) {
            struct Next {
                std::optional<ClientServing> serving;
                std::optional<ClientIdle> idle;
                milk::Result<void> checked{};
                bool timed_out = false;
            };
            auto next = MILK_TRY(std::move(*serving).receive_for(
                timeout,
                [&](BlkProtocol::ReadDone&& read, ClientServing&& more) {
                    Next result{std::move(more), std::nullopt};
                    result.checked = check_answer(read.tag, true, read.data.bytes().size(), true);
                    if (result.checked.ok()) done(read.tag, milk::blk::BlkStatus::ok, read.data.bytes());
                    return result;
                },
                [&](BlkProtocol::Done&& answer, ClientServing&& more) {
                    Next result{std::move(more), std::nullopt};
                    result.checked = check_answer(answer.tag, false, 0, answer.status == milk::blk::BlkStatus::ok);
                    if (result.checked.ok()) done(answer.tag, answer.status, std::span<const std::byte>{});
                    return result;
                },
                [&](BlkProtocol::Completed&&, ClientIdle&& idle) { return Next{std::nullopt, std::move(idle)}; },
                [](milk::TimedOut, ClientServing&& more) {
                    Next result{std::move(more), std::nullopt};
                    result.timed_out = true;
                    return result;
                }));
            if (next.timed_out) return milk::Error{milk::ErrorCode::TimedOut, "blk: the service missed its deadline", 0};
            if (!next.checked.ok()) return next.checked.error();
            if (next.idle) {
                if (answers != requests.size())
                    return milk::Error{milk::ErrorCode::ProtocolViolation, "blk: Completed before every request had its answer",
                                       static_cast<std::int64_t>(answers)};
                m_idle = std::move(next.idle);
                return {};
            }
            ++answers;
            serving = std::move(next.serving);
        }
    }

    // Ends the session.
    [[nodiscard]] milk::Result<void> bye() {
        if (!m_idle) return milk::Error{milk::ErrorCode::PeerClosed, "blk: the channel failed before", 0};
        auto sent = std::move(*m_idle).send(BlkProtocol::Bye{});
        m_idle.reset();
        return sent;
    }

private:
    // Each tag's request in the current batch: whether answered, and for a
    // read the blocks it asked for.
    struct Answered {
        std::uint64_t batch;
        bool done;
        std::uint32_t read_blocks;
    };

    BlkClient(ClientIdle&& idle, Device device, milk::FixedArray<Answered> answered)
        : m_idle(std::move(idle)), m_device(device), m_answered(std::move(answered)) {}

    // A tag of this batch, answered once; a read answered by ReadDone with
    // exactly its blocks, or by Done with a status other than ok.
    milk::Result<void> check_answer(std::uint32_t tag, bool with_data, std::size_t bytes, bool ok) {
        if (tag >= m_device.depth || m_answered[tag].batch != m_batch || m_answered[tag].done)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "blk: an answer for no request of the batch", tag};
        const Answered& request = m_answered[tag];
        if (with_data && (request.read_blocks == 0 || bytes != std::size_t{request.read_blocks} * m_device.block_size))
            return milk::Error{milk::ErrorCode::ProtocolViolation, "blk: a read's answer of the wrong length", tag};
        if (!with_data && ok && request.read_blocks != 0)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "blk: a read answered ok without its blocks", tag};
        m_answered[tag].done = true;
        return {};
    }

    template <typename Endpoint, typename Fill>
    milk::Result<ClientQueued> send(Endpoint&& at, const Request& request, Fill& fill) const {
        switch (request.kind) {
        case RequestKind::read: return std::move(at).send(BlkProtocol::Read{request.tag, request.block, request.count});
        case RequestKind::flush: return std::move(at).send(BlkProtocol::Flush{request.tag});
        case RequestKind::discard: return std::move(at).send(BlkProtocol::Discard{request.tag, request.block, request.count});
        case RequestKind::write: break;
        }
        if (request.data.empty() && request.count > 0) {
            const std::size_t bytes = std::size_t{request.count} * m_device.block_size;
            auto filled = MILK_TRY(at.allocate(bytes));
            MILK_TRY(fill(request.tag, std::span<std::byte>(filled.data(), bytes)));
            return std::move(at).send(BlkProtocol::Write{request.tag, request.block, std::move(filled)});
        }
        auto data = MILK_TRY(at.allocate(request.data.size()));
        if (!request.data.empty()) std::memcpy(data.data(), request.data.data(), request.data.size());
        return std::move(at).send(BlkProtocol::Write{request.tag, request.block, std::move(data)});
    }

    std::optional<ClientIdle> m_idle;
    Device m_device;
    milk::FixedArray<Answered> m_answered;
    std::uint64_t m_batch = 0;
};

}  // namespace components::blk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
