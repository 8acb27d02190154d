// The component's side of one channel of a movable instance, in the process
// that serves it (the host's, for `inproc`; the runner's, for `process`).
// Not installed.
//
// A seat runs ComponentType::serve_movable in a thread of its own. A move
// parks it (the component stops at a cut point and hands over its
// snapshot), then either retires it (the old channel closes with the reason
// "moved", and the client's relocating end takes the successor) or resumes
// it where it was (the move failed: the component is restored from its own
// snapshot and serves on, with the unconsumed messages still in its ring).
#pragma once

#include <milk/channel.hpp>
#include <milk/deadline.hpp>
#include <milk/host/component_type.hpp>
#include <milk/result.hpp>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace milk::host::detail {

// The reason a retired channel closes with: its peer's relocating end
// reads it as "look for the successor".
[[nodiscard]] Error moved_error();

class ChannelSeat : public std::enable_shared_from_this<ChannelSeat> {
public:
    // Starts serving `end` (already counted) in a new thread, from
    // `snapshot` when it is not empty. `type` must be movable.
    [[nodiscard]] static std::shared_ptr<ChannelSeat> start(const ComponentType& type, const Settings& settings,
                                                            std::vector<std::byte> snapshot, ChannelEnd&& end,
                                                            std::string instance);
    // A seat whose channel is still being handed over to a client in
    // another process: begin() starts it, abandon() gives up. A park in
    // the meantime waits for either.
    [[nodiscard]] static std::shared_ptr<ChannelSeat> reserve(const ComponentType& type, const Settings& settings,
                                                              std::string instance);
    void begin(std::vector<std::byte> snapshot, ChannelEnd&& end);
    void abandon();
    ChannelSeat(const ChannelSeat&) = delete;
    ChannelSeat& operator=(const ChannelSeat&) = delete;

    // Stops the component at its next cut point and returns its snapshot.
    // PeerClosed when the session ended first (nothing to move); TimedOut
    // when it did not reach a cut point by the deadline (the request is
    // withdrawn and it serves on); WouldBlock while the channel is still
    // being handed over (reserve()).
    [[nodiscard]] Result<std::vector<std::byte>> park(Deadline deadline);
    // After park(): the channel is given up, closed with moved_error().
    void retire();
    // After park(): serves again, restored from the snapshot park() took.
    void resume();

    // Whether the session has ended (the seat can be forgotten).
    [[nodiscard]] bool ended() const;

private:
    enum class Phase { Pending, Serving, Parked, Retired, Ended };
    ChannelSeat(const ComponentType& type, const Settings& settings, std::string instance)
        : m_type(type), m_settings(settings), m_instance(std::move(instance)) {}
    void run(std::vector<std::byte> snapshot, ChannelEnd end);
    // retire() and resume(): what the parked thread does next.
    void decide(bool resume);

    const ComponentType& m_type;
    Settings m_settings;
    std::string m_instance;
    ParkSignal m_signal;

    mutable std::mutex m_lock;
    std::condition_variable m_changed;
    Phase m_phase = Phase::Pending;
    // What a park hands over; the parked end waits here for the decision.
    std::optional<ParkedChannel> m_parked;
    bool m_decided = false;
    bool m_resume = false;
};

}  // namespace milk::host::detail
