// The client's end of a channel to a movable instance: it follows the
// component from placement to placement without the client noticing.
// Not installed.
//
// The client's endpoint sits on a RelocatingTransport, which forwards every
// call to the end of the channel the component serves now. A move parks the
// component at a cut point, starts it at the new placement on a new channel,
// posts the new channel's client end here (Successor), and then closes the
// old channel. The next call of the client that meets the close (a receive
// it was blocked in, a send: both check the peer's closed flag) finds the
// successor instead of reporting PeerClosed, and switches:
//
//   1. what the component sent on the old channel is already delivered (a
//      closed channel delivers what came before the close first, and the
//      component owed nothing at the cut point);
//   2. what the client sent that the component never took is read back from
//      the old ring, oldest first, and sent again on the new channel,
//      decoded and re-encoded by the contract's codec so that each `bytes`
//      buffer is copied once into the new channel's heap
//      (ComponentType::reencode). A successor that moves on again before
//      this is done is followed the same way, its own unreceived slots
//      first;
//   3. from then on every call goes to the new channel.
//
// A close with no successor posted is a real one (the component died, or
// the session ended): the client gets the error as before. When the
// component's process died and the host restarted it (`restart =
// "on-failure"`), the successor is taken only if the dead component owed
// nothing; a message it had taken and not answered is lost with it, and the
// client gets the death (PeerClosed) instead of a silent gap.
#pragma once

#include <milk/channel.hpp>
#include <milk/channel_status.hpp>
#include <milk/state_machine.hpp>
#include <milk/transport.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace milk::host::detail {

// Where the successor of a client's channel comes from.
class Successor {
public:
    Successor() = default;
    Successor(const Successor&) = delete;
    Successor& operator=(const Successor&) = delete;
    virtual ~Successor() = default;
    // The successor's client end, if a move made one; called by the
    // client's thread after its channel reported `close`.
    [[nodiscard]] virtual std::optional<ChannelEnd> take(const Error& close) = 0;
    // The client's end is gone (closed or destroyed): nobody will take
    // another successor.
    virtual void client_gone() noexcept = 0;
};

// A successor handed over within this process (Host::connect's clients).
class LocalSuccessor final : public Successor {
public:
    // `restart_wait`: for an instance that restarts after its process died,
    // how long a client whose channel died waits for the host's word (zero:
    // it does not wait).
    explicit LocalSuccessor(std::chrono::milliseconds restart_wait = {}) : m_restart_wait(restart_wait) {}

    // The host's side: the channel that follows. Dropped (closed, so that
    // its component's session ends) when the client has gone.
    void post(ChannelEnd&& next) {
        std::lock_guard lock(m_lock);
        if (m_client_gone.load(std::memory_order_relaxed)) return;
        m_next = std::move(next);
        m_decided.notify_all();
    }
    // The host's side, after a restart: no successor for this channel (its
    // component held state, or owed an answer, when its process died).
    void refuse() {
        std::lock_guard lock(m_lock);
        m_refused = true;
        m_decided.notify_all();
    }
    // A move posted it before it closed the old channel: no waiting. A
    // process that died is restarted by the host's supervisor meanwhile:
    // waiting for its word is worth it then.
    [[nodiscard]] std::optional<ChannelEnd> take(const Error& close) override {
        std::unique_lock lock(m_lock);
        if (!m_next && close.detail == peer_gone_detail && m_restart_wait.count() > 0)
            m_decided.wait_for(lock, m_restart_wait, [&] { return m_next.has_value() || m_refused; });
        return std::exchange(m_next, std::nullopt);
    }
    void client_gone() noexcept override {
        std::lock_guard lock(m_lock);
        m_client_gone.store(true, std::memory_order_release);
        m_next.reset();
    }
    // Whether the host may stop moving this channel.
    [[nodiscard]] bool is_client_gone() const { return m_client_gone.load(std::memory_order_acquire); }

private:
    std::chrono::milliseconds m_restart_wait;
    std::mutex m_lock;
    std::condition_variable m_decided;
    std::optional<ChannelEnd> m_next;
    bool m_refused = false;
    std::atomic<bool> m_client_gone{false};
};

using ReencodeFunction = Result<void> (*)(const Slot& slot, ChannelEnd& from, Transport& to, Slot& out);

// Wraps `first`, the client's end of the channel now. `machine` is the
// contract's protocol: the end follows the channel's state with it, so
// that after the component's process died it can tell whether the
// component owed nothing (every message it took was answered, and the
// state before the first it did not take is a cut point): only then does
// it go on with a restarted component; otherwise it reports the death.
[[nodiscard]] ChannelEnd relocating(ChannelEnd&& first, std::shared_ptr<Successor> successor,
                                    ReencodeFunction reencode, const session::StateMachine& machine);

}  // namespace milk::host::detail
