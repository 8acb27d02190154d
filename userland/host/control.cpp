#include "milk/host/control.hpp"

#include "control.hpp"  // generated from contracts/control.contract

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace milk::host {
namespace {

namespace Control = milk::control::Control;
using ServerIdle = Control::Server<Control::state::Idle>;
using ServerListing = Control::Server<Control::state::Listing>;
using ClientIdle = Control::Client<Control::state::Idle>;
using ClientListing = Control::Client<Control::state::Listing>;
using ServerMoving = Control::Server<Control::state::Moving>;
using ServerTracing = Control::Server<Control::state::Tracing>;
using ClientTracing = Control::Client<Control::state::Tracing>;

control::Fate fate_of(InstanceState state) {
    switch (state) {
    case InstanceState::Running: return control::Fate::running;
    case InstanceState::Exited: return control::Fate::exited;
    case InstanceState::Killed: return control::Fate::killed;
    }
    return control::Fate::exited;
}

InstanceState state_of(control::Fate fate) {
    switch (fate) {
    case control::Fate::running: return InstanceState::Running;
    case control::Fate::exited: return InstanceState::Exited;
    case control::Fate::killed: return InstanceState::Killed;
    }
    return InstanceState::Exited;
}

template <typename Endpoint>
Result<Buffer> text_buffer(Endpoint& endpoint, const std::string& text) {
    // A buffer of zero bytes is still a buffer: allocate at least one and
    // send the text's length only.
    auto buffer = MILK_TRY(endpoint.allocate(text.empty() ? 1 : text.size()));
    if (text.empty()) buffer.bytes()[0] = std::byte{0};
    else std::memcpy(buffer.bytes().data(), text.data(), text.size());
    return buffer;
}

std::string text_of(const Buffer& buffer) {
    const auto bytes = buffer.bytes();
    std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // Names never hold NUL; one that does ends there (a 1-byte buffer of an
    // empty name holds a NUL).
    text.resize(std::strlen(text.c_str()));
    return text;
}

// Lists every instance; the endpoint back in Idle. The endpoint lives in an
// optional between sends, as in the components' loops: clang's -Wconsumed
// cannot follow a consumable local that a loop consumes and reassigns.
Result<ServerIdle> list(ServerListing first, const std::vector<InstanceStatus>& instances) {
    std::optional<ServerListing> listing{std::move(first)};
    for (const InstanceStatus& instance : instances) {
        Control::Instance record{
            MILK_TRY(text_buffer(*listing, instance.name)),
            MILK_TRY(text_buffer(*listing, instance.component)),
            static_cast<control::Placement>(instance.placement),
            fate_of(instance.state),
            static_cast<std::int32_t>(instance.pid),
            instance.code,
            static_cast<std::uint32_t>(instance.channels_open),
            instance.messages,
            instance.restarts,
        };
        listing.emplace(MILK_TRY(std::move(*listing).send(std::move(record))));
        for (const ChannelStatus& channel : instance.open_channels)
            listing.emplace(MILK_TRY(std::move(*listing).send(
                Control::Channel{channel.messages, MILK_TRY(text_buffer(*listing, channel.state))})));
    }
    return std::move(*listing).send(Control::Listed{static_cast<std::uint32_t>(instances.size())});
}

}  // namespace

namespace {

// A trace's JSON in pieces of this many bytes: each is a buffer of the
// exchange heap, which the client drops once it has written it.
constexpr std::size_t trace_chunk_bytes = 32 * 1024;

// Records for `duration` and sends the JSON; the endpoint back in Idle.
Result<ServerIdle> send_trace(ServerTracing tracing, const TraceFunction& trace, std::chrono::milliseconds duration) {
    const Trace recorded = trace ? trace(duration) : Trace{};
    const std::string json = trace_to_json(recorded);
    std::optional<ServerTracing> sending{std::move(tracing)};
    for (std::size_t done = 0; done < json.size(); done += trace_chunk_bytes) {
        const std::size_t length = std::min(trace_chunk_bytes, json.size() - done);
        auto chunk = MILK_TRY(sending->allocate(length));
        std::memcpy(chunk.bytes().data(), json.data() + done, length);
        sending.emplace(MILK_TRY(std::move(*sending).send(Control::TraceChunk{std::move(chunk)})));
    }
    const auto clamp = [](std::uint64_t value) { return static_cast<std::uint32_t>(std::min<std::uint64_t>(value, UINT32_MAX)); };
    return std::move(*sending).send(Control::TraceDone{clamp(recorded.events.size()), clamp(recorded.dropped)});
}

}  // namespace

Result<void> serve_control(ChannelEnd&& end, const std::function<std::vector<InstanceStatus>()>& status,
                           const MoveFunction& move, const TraceFunction& trace) {
    std::optional<ServerIdle> idle{Control::server(std::move(end))};
    for (;;) {
        // What a request leads to: a listing, a move to answer, or the end.
        struct Next {
            std::optional<ServerListing> listing;
            std::optional<ServerMoving> moving;
            std::optional<ServerTracing> tracing;
            std::string instance;
            Placement placement = Placement::Inproc;
            std::uint32_t milliseconds = 0;
        };
        auto request = std::move(*idle).receive(
            [](Control::Status&&, ServerListing&& listing) {
                Next next;
                next.listing.emplace(std::move(listing));
                return next;
            },
            [](Control::Move&& asked, ServerMoving&& moving) {
                Next next;
                next.moving.emplace(std::move(moving));
                next.instance = text_of(asked.instance);
                next.placement = static_cast<Placement>(asked.placement);
                return next;
            },
            [](Control::Trace&& asked, ServerTracing&& tracing) {
                Next next;
                next.tracing.emplace(std::move(tracing));
                next.milliseconds = asked.milliseconds;
                return next;
            },
            [](Control::Bye&&) { return Next{}; });
        idle.reset();
        if (!request.ok()) return request.error();
        Next& next = request.value();
        if (next.listing) {
            idle.emplace(MILK_TRY(list(std::move(*next.listing), status())));
            continue;
        }
        if (next.tracing) {
            // At most a minute: the client waits for the answer meanwhile.
            const auto duration = std::chrono::milliseconds(std::min<std::uint32_t>(next.milliseconds, 60'000));
            idle.emplace(MILK_TRY(send_trace(std::move(*next.tracing), trace, duration)));
            continue;
        }
        if (!next.moving) return {};
        auto moved = move(next.instance, next.placement);
        if (moved.ok()) {
            idle.emplace(MILK_TRY(std::move(*next.moving).send(Control::Moved{})));
            continue;
        }
        const Error& error = moved.error();
        auto reason = MILK_TRY(text_buffer(*next.moving, error.what != nullptr ? error.what : describe(error.code)));
        idle.emplace(MILK_TRY(std::move(*next.moving).send(
            Control::MoveFailed{static_cast<std::uint8_t>(error.code), std::move(reason)})));
    }
}

Result<TraceSummary> request_trace(ChannelEnd&& control, std::chrono::milliseconds duration, std::string& json) {
    ClientIdle idle = Control::client(std::move(control));
    const auto milliseconds = static_cast<std::uint32_t>(std::clamp<std::int64_t>(duration.count(), 0, 60'000));
    auto tracing = MILK_TRY(std::move(idle).send(Control::Trace{milliseconds}));
    std::optional<ClientTracing> waiting{std::move(tracing)};
    for (;;) {
        struct Step {
            std::optional<ClientTracing> more;
            std::optional<ClientIdle> done;
            TraceSummary summary;
        };
        auto step = std::move(*waiting).receive(
            [&](Control::TraceChunk&& chunk, ClientTracing&& next) {
                const auto bytes = chunk.json.bytes();
                json.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
                Step result;
                result.more.emplace(std::move(next));
                return result;
            },
            [](Control::TraceDone&& done, ClientIdle&& next) {
                Step result;
                result.done.emplace(std::move(next));
                result.summary = TraceSummary{done.events, done.dropped};
                return result;
            });
        waiting.reset();
        if (!step.ok()) return step.error();
        if (step.value().more) {
            waiting.emplace(std::move(*step.value().more));
            continue;
        }
        MILK_TRY(std::move(*step.value().done).send(Control::Bye{}));
        return step.value().summary;
    }
}

Result<void> request_move(ChannelEnd&& control, std::string_view instance, Placement placement, std::string& reason) {
    ClientIdle idle = Control::client(std::move(control));
    auto name = MILK_TRY(text_buffer(idle, std::string(instance)));
    auto moving = MILK_TRY(std::move(idle).send(Control::Move{std::move(name), static_cast<control::Placement>(placement)}));
    std::optional<Error> refused;
    auto answered = std::move(moving).receive([](Control::Moved&&, ClientIdle&& next) { return std::move(next); },
                                              [&](Control::MoveFailed&& failed, ClientIdle&& next) {
                                                  reason = text_of(failed.reason);
                                                  // A code milk does not have is reported as refused.
                                                  const bool known = failed.code >= 1 && failed.code <= 9;
                                                  refused = Error{known ? static_cast<ErrorCode>(failed.code)
                                                                        : ErrorCode::InvalidArgument,
                                                                  "milkd refused the move", failed.code};
                                                  return std::move(next);
                                              });
    if (!answered.ok()) return answered.error();
    MILK_TRY(std::move(answered).value().send(Control::Bye{}));
    if (refused) return *refused;
    return {};
}

// GCC 12 warns that the optional's endpoint "may be used uninitialized" in
// the loop below once enough is inlined around it (a known false positive
// of -Wmaybe-uninitialized with std::optional); clang's -Wconsumed wants
// the optional (see list()).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
Result<std::vector<InstanceStatus>> request_status(ChannelEnd&& control) {
    ClientIdle idle = Control::client(std::move(control));
    auto listing = MILK_TRY(std::move(idle).send(Control::Status{}));
    std::vector<InstanceStatus> instances;
    bool orphan_channel = false;
    std::optional<ClientListing> waiting{std::move(listing)};
    for (;;) {
        using Step = std::pair<std::optional<ClientListing>, std::optional<ClientIdle>>;
        std::uint32_t listed = 0;
        auto step = std::move(*waiting).receive(
            [&](Control::Instance&& record, ClientListing&& next) {
                InstanceStatus status;
                status.name = text_of(record.name);
                status.component = text_of(record.component);
                status.placement = static_cast<Placement>(record.placement);
                status.state = state_of(record.fate);
                status.pid = record.pid;
                status.code = record.code;
                status.channels_open = record.channels;
                status.messages = record.messages;
                status.restarts = record.restarts;
                instances.push_back(std::move(status));
                return Step{std::move(next), std::nullopt};
            },
            [&](Control::Channel&& channel, ClientListing&& next) {
                // A Channel before any Instance belongs to nobody.
                if (instances.empty()) orphan_channel = true;
                else instances.back().open_channels.push_back(ChannelStatus{channel.messages, text_of(channel.protocol_state)});
                return Step{std::move(next), std::nullopt};
            },
            [&](Control::Listed&& done, ClientIdle&& next) {
                listed = done.count;
                return Step{std::nullopt, std::move(next)};
            });
        waiting.reset();
        if (!step.ok()) return step.error();
        if (step.value().first) {
            waiting.emplace(std::move(*step.value().first));
            continue;
        }
        if (orphan_channel)
            return Error{ErrorCode::ProtocolViolation, "milkd sent a Channel record before any Instance", 0};
        if (listed != instances.size())
            return Error{ErrorCode::ProtocolViolation, "milkd's Listed count differs from the records it sent", listed};
        MILK_TRY(std::move(*step.value().second).send(Control::Bye{}));
        return instances;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace milk::host
