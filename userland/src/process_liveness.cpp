// Watching the peer process through a pidfd: how a blocked end learns that
// a peer that could not close (SIGKILL) is gone.
//
// A sleeping end waits on a futex word in the shared region, and Linux has
// no call that waits for a futex and a file descriptor at once (futex_waitv
// takes only futexes; io_uring's futex wait needs 6.7). So one thread per
// process, started with the first process channel, waits in epoll for the
// pidfds of every peer; when one becomes readable (its process exited, for
// any reason, reaped or not), the thread marks the liveness gone and rings
// the two doorbells its end may sleep on, exactly as a closing peer would.
// Waiters then sleep with no timer of their own: a sleeping hand-off costs a
// futex wait and a wake, no more (docs/transports.md, "Peer death").
//
// Until session 9 a waiter instead never slept longer than a liveness
// interval (2 ms) and polled the pidfd when it woke without news; that arms
// a timer on every sleep, which in a VM is a trap to the hypervisor, and cost
// the blocking round trip 15-45% over eventfd's. That path stays as the
// fallback where no watcher runs: its thread could not start, or this
// process is a child forked after the watcher started (threads do not
// survive fork, and ThreadSanitizer stops a child that starts one after a
// multi-threaded fork, so a child starts its own only outside TSan).
#include "milk/doorbell.hpp"
#include "milk/region_transport.hpp"
#include "process_internal.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>

#if defined(__SANITIZE_THREAD__)
#define MILK_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MILK_UNDER_TSAN 1
#endif
#endif

namespace milk::process::detail {
namespace {

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage, so C++
// cannot link against it; the system call is called directly.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    errno = ENOSYS;
    return -1;
#endif
}

class PidfdLiveness;

// The process's one watcher thread and the pidfds it waits for.
class DeathWatcher {
public:
    // Where a liveness stands with the watcher: id 0 = not watched.
    struct Registration {
        std::uint64_t id = 0;
        std::uint64_t generation = 0;
    };

    // Never destroyed: its thread may still be in epoll_wait while static
    // destructors run at exit.
    static DeathWatcher& instance() {
        static DeathWatcher* const watcher = new DeathWatcher();
        return *watcher;
    }

    // Watches `pidfd` for `liveness`, starting the thread if it is not
    // running; id 0 if it cannot (the fallback then applies).
    Registration add(int pidfd, PidfdLiveness& liveness);
    // Stops watching. Once this returns, the thread no longer touches
    // `liveness`.
    void remove(Registration registration);
    // Whether a registration still has a running watcher: false in a child
    // forked after it was made.
    [[nodiscard]] bool current(Registration registration) const {
        return registration.id != 0 && registration.generation == m_generation.load(std::memory_order_acquire);
    }

private:
    DeathWatcher() {
        // The lock is taken across fork, so that the child never inherits
        // it held by the watcher thread (which does not exist there).
        static_cast<void>(::pthread_atfork([] { instance().m_mutex.lock(); }, [] { instance().m_mutex.unlock(); },
                                           [] { instance().forget_after_fork(); }));
    }

    [[nodiscard]] bool start_locked();
    void forget_after_fork();
    static void* run(void* unused);
    void deliver(std::uint64_t id);

    std::mutex m_mutex;
    // -1 until the thread runs.
    int m_epoll = -1;
    bool m_forked = false;
    std::uint64_t m_next_id = 1;
    struct Watch {
        int pidfd;
        PidfdLiveness* liveness;
    };
    std::unordered_map<std::uint64_t, Watch> m_watches;
    // Stops watching the entry `found` (under the lock). Explicitly, not by
    // closing the pidfd: a child forked meanwhile holds the same open file,
    // which then stays in the set.
    void forget_locked(std::unordered_map<std::uint64_t, Watch>::iterator found);
    // Bumped in a fork child: every registration inherited from the parent
    // is stale there.
    std::atomic<std::uint64_t> m_generation{1};
};

class PidfdLiveness final : public PeerLiveness {
public:
    PidfdLiveness(FileDescriptor pidfd, std::chrono::nanoseconds interval)
        : m_pidfd(std::move(pidfd)), m_interval(interval) {}
    PidfdLiveness(const PidfdLiveness&) = delete;
    PidfdLiveness& operator=(const PidfdLiveness&) = delete;
    // Unregistered before the pidfd closes, so the watcher never waits on a
    // descriptor number that may be reused.
    ~PidfdLiveness() override { DeathWatcher::instance().remove(m_registration); }

    bool peer_gone() noexcept override {
        if (seen_gone()) return true;
        // A pidfd becomes readable when its process exits (for any reason,
        // SIGKILL included), whether or not anybody has reaped it yet.
        pollfd entry{m_pidfd.get(), POLLIN, 0};
        int ready = 0;
        do {
            ready = ::poll(&entry, 1, 0);
        } while (ready < 0 && errno == EINTR);
        return ready > 0;
    }

    std::chrono::nanoseconds interval() const noexcept override { return m_interval; }

    void ring_when_gone(DoorbellWord* data_word, DoorbellWord* space_word) noexcept override {
        m_words[0] = data_word;
        m_words[1] = space_word;
        m_registration = DeathWatcher::instance().add(m_pidfd.get(), *this);
    }

    bool rings_waiters() const noexcept override { return DeathWatcher::instance().current(m_registration); }

    // On the watcher thread, under its lock: the peer is gone.
    void on_gone() noexcept {
        mark_gone();
        for (DoorbellWord* word : m_words)
            if (word != nullptr) Doorbell(word, WaitPolicy{}).ring();
    }

private:
    FileDescriptor m_pidfd;
    std::chrono::nanoseconds m_interval;
    DoorbellWord* m_words[2] = {nullptr, nullptr};
    DeathWatcher::Registration m_registration;
};

DeathWatcher::Registration DeathWatcher::add(int pidfd, PidfdLiveness& liveness) {
    std::lock_guard lock(m_mutex);
    if (m_epoll < 0 && !start_locked()) return {};
    const Registration registration{m_next_id++, m_generation.load(std::memory_order_relaxed)};
    epoll_event event{};
    // One shot: a pidfd stays readable once its process is gone, and one
    // event is all the thread needs.
    event.events = EPOLLIN | EPOLLONESHOT;
    event.data.u64 = registration.id;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, pidfd, &event) != 0) return {};
    m_watches.emplace(registration.id, Watch{pidfd, &liveness});
    return registration;
}

void DeathWatcher::remove(Registration registration) {
    if (registration.id == 0) return;
    std::lock_guard lock(m_mutex);
    // Stale (made before a fork): the epoll instance it was added to is the
    // parent's, which this process must not change.
    if (registration.generation != m_generation.load(std::memory_order_relaxed)) return;
    auto found = m_watches.find(registration.id);
    // Not there: the thread delivered the peer's death already.
    if (found != m_watches.end()) forget_locked(found);
}

void DeathWatcher::forget_locked(std::unordered_map<std::uint64_t, Watch>::iterator found) {
    static_cast<void>(::epoll_ctl(m_epoll, EPOLL_CTL_DEL, found->second.pidfd, nullptr));
    m_watches.erase(found);
}

bool DeathWatcher::start_locked() {
#ifdef MILK_UNDER_TSAN
    if (m_forked) return false;
#endif
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) return false;
    // The thread takes no signals: they belong to the program's threads.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    static_cast<void>(::pthread_sigmask(SIG_SETMASK, &all, &previous));
    // Set before the thread starts: it reads it (under the lock this
    // caller holds) first thing.
    m_epoll = epoll;
    pthread_t thread{};
    const int created = ::pthread_create(&thread, nullptr, &DeathWatcher::run, nullptr);
    static_cast<void>(::pthread_sigmask(SIG_SETMASK, &previous, nullptr));
    if (created != 0) {
        m_epoll = -1;
        ::close(epoll);
        return false;
    }
    static_cast<void>(::pthread_detach(thread));
    static_cast<void>(::pthread_setname_np(thread, "milk-liveness"));
    return true;
}

void DeathWatcher::forget_after_fork() {
    // In the child, after fork, on the forking thread (the only one here).
    // The epoll instance is shared with the parent: close our descriptor of
    // it without touching its set, and start afresh on the next add.
    m_mutex.unlock();
    if (m_epoll >= 0) ::close(m_epoll);
    m_epoll = -1;
    m_forked = true;
    m_watches.clear();
    m_generation.fetch_add(1, std::memory_order_acq_rel);
}

void* DeathWatcher::run(void* /*unused*/) {
    DeathWatcher& watcher = instance();
    int epoll = -1;
    {
        std::lock_guard lock(watcher.m_mutex);
        epoll = watcher.m_epoll;
    }
    epoll_event events[16];
    for (;;) {
        const int ready = ::epoll_wait(epoll, events, 16, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            // Nothing this thread can do; waiters still have their deadlines.
            return nullptr;
        }
        for (int i = 0; i < ready; ++i) watcher.deliver(events[i].data.u64);
    }
}

void DeathWatcher::deliver(std::uint64_t id) {
    std::lock_guard lock(m_mutex);
    auto found = m_watches.find(id);
    if (found == m_watches.end()) return;
    found->second.liveness->on_gone();
    forget_locked(found);
}

}  // namespace

Result<std::unique_ptr<PeerLiveness>> watch_process(pid_t pid, std::chrono::nanoseconds interval) {
    if (pid <= 0) return Error{ErrorCode::InvalidArgument, "no peer process id", pid};
    FileDescriptor pidfd(open_pidfd(pid));
    if (!pidfd.valid()) {
        if (errno == ESRCH) return Error{ErrorCode::PeerClosed, "the peer process is already gone", pid};
        if (errno == ENOSYS)
            return Error{ErrorCode::SystemError, "pidfd_open is not available (the process transport needs Linux 5.3)",
                         errno};
        return Error{ErrorCode::SystemError, "pidfd_open of the peer process failed", errno};
    }
    return std::unique_ptr<PeerLiveness>(std::make_unique<PidfdLiveness>(std::move(pidfd), interval));
}

}  // namespace milk::process::detail
