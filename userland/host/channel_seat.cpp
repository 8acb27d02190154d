#include "channel_seat.hpp"

#include <milk/channel_status.hpp>

#include <cstdio>
#include <thread>
#include <utility>

namespace milk::host::detail {

Error moved_error() {
    return Error{ErrorCode::PeerClosed, "the component moved to another placement", moved_close_detail};
}

std::shared_ptr<ChannelSeat> ChannelSeat::start(const ComponentType& type, const Settings& settings,
                                                std::vector<std::byte> snapshot, ChannelEnd&& end,
                                                std::string instance) {
    auto seat = reserve(type, settings, std::move(instance));
    seat->begin(std::move(snapshot), std::move(end));
    return seat;
}

std::shared_ptr<ChannelSeat> ChannelSeat::reserve(const ComponentType& type, const Settings& settings,
                                                  std::string instance) {
    return std::shared_ptr<ChannelSeat>(new ChannelSeat(type, settings, std::move(instance)));
}

void ChannelSeat::begin(std::vector<std::byte> snapshot, ChannelEnd&& end) {
    {
        std::lock_guard lock(m_lock);
        m_phase = Phase::Serving;
        m_changed.notify_all();
    }
    // The thread keeps the seat alive until the session ends or it retires.
    std::thread([seat = shared_from_this(), snapshot = std::move(snapshot), end = std::move(end)]() mutable {
        seat->run(std::move(snapshot), std::move(end));
    }).detach();
}

void ChannelSeat::abandon() {
    std::lock_guard lock(m_lock);
    m_phase = Phase::Ended;
    m_changed.notify_all();
}

void ChannelSeat::run(std::vector<std::byte> snapshot, ChannelEnd end) {
    for (;;) {
        auto served = m_type.serve_movable(m_settings, snapshot, std::move(end), m_signal);
        if (!served.ok() || !served.value()) {
            if (!served.ok() && served.error().code != ErrorCode::PeerClosed) {
                std::fprintf(stderr, "milk host: instance %s: %s%s%s\n", m_instance.c_str(),
                             describe(served.error().code), served.error().what != nullptr ? ": " : "",
                             served.error().what != nullptr ? served.error().what : "");
            }
            std::lock_guard lock(m_lock);
            m_phase = Phase::Ended;
            m_changed.notify_all();
            return;
        }
        std::unique_lock lock(m_lock);
        m_parked = std::move(*served.value());
        m_phase = Phase::Parked;
        m_decided = false;
        m_changed.notify_all();
        m_changed.wait(lock, [this] { return m_decided; });
        ParkedChannel parked = std::move(*m_parked);
        m_parked.reset();
        if (!m_resume) {
            m_phase = Phase::Retired;
            lock.unlock();
            // Closing after the successor was posted: the client's end,
            // woken by the close, finds it (relocating_transport.hpp).
            static_cast<void>(parked.end.fail(moved_error()));
            return;
        }
        m_phase = Phase::Serving;
        lock.unlock();
        m_signal.withdraw();
        snapshot = std::move(parked.snapshot);
        end = std::move(parked.end);
    }
}

Result<std::vector<std::byte>> ChannelSeat::park(Deadline deadline) {
    std::unique_lock lock(m_lock);
    // Still being handed over: its client has not taken it yet, and there
    // is nothing to stop (the request would park it the moment it began).
    if (m_phase == Phase::Pending)
        return Error{ErrorCode::WouldBlock, "the channel's client has not taken it yet", 0};
    lock.unlock();
    m_signal.request();
    lock.lock();
    const auto settled = [this] { return m_phase != Phase::Serving && m_phase != Phase::Pending; };
    if (deadline.is_never()) {
        m_changed.wait(lock, settled);
    } else if (!m_changed.wait_until(lock, deadline.at(), settled)) {
        m_signal.withdraw();
        // It may have parked between the timeout and the withdrawal.
        if (m_phase != Phase::Parked) return Error{ErrorCode::TimedOut, "the component did not reach a cut point", 0};
    }
    if (m_phase == Phase::Ended) return Error{ErrorCode::PeerClosed, "the channel's session ended", 0};
    return m_parked->snapshot;
}

void ChannelSeat::retire() { decide(false); }

void ChannelSeat::resume() { decide(true); }

void ChannelSeat::decide(bool resume) {
    std::lock_guard lock(m_lock);
    if (m_phase != Phase::Parked) return;
    m_decided = true;
    m_resume = resume;
    m_changed.notify_all();
}

bool ChannelSeat::ended() const {
    std::lock_guard lock(m_lock);
    return m_phase == Phase::Ended || m_phase == Phase::Retired;
}

}  // namespace milk::host::detail
