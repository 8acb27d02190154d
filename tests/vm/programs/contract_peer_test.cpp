// The contract-driven hostile peer (tests/hostile/contract_peer.hpp) against
// every contract milk.ko serves: hostile messages in every state, interleaved
// with honest traffic, each checked against the model, and no oops (the VM
// harness fails the run on any oops, warning or leak).
//
//   contract_peer_test [HOSTILE_MESSAGES]
//
// Default: 500,000 per boot, so 1,000,000 per CI run (the suite boots both
// supported kernels). MILK_HOSTILE_MESSAGES in the environment overrides it:
// scripts/hostile-vm.sh N runs this program alone for N.
#include "files.kstub.h"
#include "pingpong.kstub.h"
#include "tally.kstub.h"

#include "../../hostile/contract_peer.hpp"
#include "raw_channel.hpp"

#include <milk/channel_status.hpp>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/wait.h>

namespace {

using milk::Slot;
using milk::WireBytes;

// The smallest channel milk.ko makes: most hostile messages cost a channel.
constexpr std::uint32_t channel_pool_bytes = 4 * 1024;

// A channel to one of milk.ko's components, driven by hand (raw_channel.hpp).
class KernelLink {
public:
    explicit KernelLink(const milk_kcontract& contract)
        : m_channel(milk::vm::open_raw(contract.name, 4, channel_pool_bytes)),
          m_at_end(contract.hosting == MILK_KHOSTING_PER_MESSAGE ? milk::hostile::AtEnd::Refuses
                                                                  : milk::hostile::AtEnd::Ignores) {}
    ~KernelLink() {
        if (m_channel.fd >= 0) milk::vm::close_raw(m_channel);
    }
    KernelLink(const KernelLink&) = delete;
    KernelLink& operator=(const KernelLink&) = delete;

    [[nodiscard]] std::uint32_t pool_bytes() const { return m_channel.info.pool_bytes; }
    // User space is side First: pool 0.
    [[nodiscard]] std::uint32_t own_pool_begin() const { return 0; }
    // A server called per message is done with it when the kick returns.
    // (A server thread may drop a message's bytes after its reply; no
    // contract driven here has both a thread and bytes, which settle() would
    // then have to wait for.)
    void settle() {}
    // Every kick takes the return ring before the messages.
    [[nodiscard]] bool drains_returns_first() const { return true; }
    // Whatever user space wrote, milk.ko closes its end normally (and logs
    // the word): never taken for a reason of its own.
    [[nodiscard]] milk::ErrorCode reason_after_our_close(std::uint32_t /*word*/) const {
        return milk::ErrorCode::PeerClosed;
    }
    [[nodiscard]] std::byte* heap() const { return m_channel.base + m_channel.layout.heap_offset; }
    // A server called per message stays and refuses what follows `end`; a
    // server thread returns at `end` and reads nothing more.
    [[nodiscard]] milk::hostile::AtEnd at_end() const { return m_at_end; }

    // Publishes a slot, first waiting (kicking) while the ring is full: a
    // kernel thread may be behind.
    void put(const Slot& slot) {
        auto consumed = [&] {
            return std::atomic_ref<std::uint32_t>(m_channel.to_kernel()->consumer_index).load(std::memory_order_acquire);
        };
        for (int spins = 0; m_channel.sent - consumed() >= m_channel.layout.ring_capacity; ++spins) {
            if (!kick() || m_channel.kernel_status().closed != 0) break;
            static_cast<void>(wait(std::chrono::milliseconds(1)));
            MILK_VM_CHECK(spins < 20'000);
        }
        m_channel.put(slot);
    }
    bool kick() { return ::ioctl(m_channel.fd, MILK_IOC_KICK, 0) >= 0; }
    bool take(Slot& slot) { return m_channel.take(slot); }
    bool wait(std::chrono::milliseconds timeout) {
        pollfd entry{m_channel.fd, POLLIN, 0};
        return ::poll(&entry, 1, static_cast<int>(timeout.count())) > 0;
    }
    void give_back(WireBytes handle) { m_channel.give_back(handle); }
    // Return ring 0: blocks of our pool the kernel dropped.
    bool take_return(WireBytes& entry) {
        auto* ring = m_channel.ring_header(m_channel.layout.return_ring_offset[0]);
        const auto published = std::atomic_ref<std::uint32_t>(ring->producer_index).load(std::memory_order_acquire);
        if (published == m_returns_taken) return false;
        const auto* entries = reinterpret_cast<const WireBytes*>(reinterpret_cast<const std::byte*>(ring) +
                                                                 sizeof(milk::RingHeader));
        entry = entries[m_returns_taken & (m_channel.layout.return_ring_capacity - 1)];
        ++m_returns_taken;
        std::atomic_ref<std::uint32_t>(ring->consumer_index).store(m_returns_taken, std::memory_order_release);
        return true;
    }
    // Our close, with whatever reason word the driver chose.
    void close(std::uint32_t reason) {
        milk::SideStatus& ours =
            reinterpret_cast<milk::ChannelControl*>(m_channel.base + m_channel.layout.control_offset)->status[0];
        std::atomic_ref<std::uint32_t>(ours.reason).store(reason, std::memory_order_relaxed);
        std::atomic_ref<std::uint32_t>(ours.closed).store(1, std::memory_order_release);
    }
    // The kernel's close: its status block as any client reads it, and the
    // validator's code from MILK_IOC_CHANNEL_ERROR.
    milk::hostile::HonestClose honest_close() {
        milk::SideStatus& theirs = m_channel.kernel_status();
        if (!milk::has_closed(theirs)) return {};
        const milk::Error error = milk::peer_close_error(theirs);
        const milk_channel_error record = milk::vm::channel_error(m_channel);
        return {true, error.code, record.kstub_code, record.text};
    }

private:
    milk::vm::RawChannel m_channel;
    milk::hostile::AtEnd m_at_end;
    std::uint32_t m_returns_taken = 0;
};

std::uint64_t hostile_total(int argc, char** argv) {
    if (argc > 1) return std::strtoull(argv[1], nullptr, 10);
    if (const char* env = std::getenv("MILK_HOSTILE_MESSAGES")) return std::strtoull(env, nullptr, 10);
    return 500'000;
}


// One contract's share, in a process of its own: the VM's two CPUs drive
// milk.ko at once, as two hostile clients would.
int drive(const milk_kcontract& contract, std::uint64_t hostile, std::uint64_t seed) {
    const auto began = std::chrono::steady_clock::now();
    auto open = [&contract] { return KernelLink(contract); };
    milk::hostile::ContractPeer<KernelLink, decltype(open)> peer(contract, open, seed);
    if (auto failed = peer.run(hostile); failed) {
        std::fprintf(stderr, "contract peer: %s\n", failed->what.c_str());
        return 1;
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    milk::hostile::print_stats(contract.name, peer.stats(), took.count());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::uint64_t total = hostile_total(argc, argv);
    const milk_kcontract* contracts[] = {&examples_pingpong_PingPong__kcontract, &examples_files_FileService__kcontract,
                                         &examples_tally_Tally__kcontract};
    // A server thread's channel costs a kernel thread (about 2 ms a channel
    // under TCG, against 0.4 ms): such contracts take one share, those
    // served per message four, so that all finish at about the same time.
    auto weight = [](const milk_kcontract& contract) -> std::uint64_t {
        return contract.hosting == MILK_KHOSTING_THREAD ? 1 : 4;
    };
    std::uint64_t shares = 0;
    for (const milk_kcontract* contract : contracts) shares += weight(*contract);
    const auto started = std::chrono::steady_clock::now();
    std::vector<pid_t> children;
    std::uint64_t seed = 1;
    std::uint64_t hostile = 0;
    for (const milk_kcontract* contract : contracts) {
        std::fflush(stdout);
        const pid_t child = ::fork();
        MILK_VM_CHECK(child >= 0);
        const std::uint64_t share = weight(*contract) * ((total + shares - 1) / shares);
        hostile += share;
        if (child == 0) {
            const int status = drive(*contract, share, seed);
            std::fflush(stdout);
            std::_Exit(status);
        }
        children.push_back(child);
        ++seed;
    }
    bool all_ok = true;
    for (const pid_t child : children) {
        int status = 0;
        MILK_VM_CHECK(::waitpid(child, &status, 0) == child);
        all_ok = all_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    MILK_VM_CHECK(all_ok);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    std::printf("contract peer: %llu hostile messages against milk.ko in %.1f s, each refused, ignored or answered as "
                "the model says\n",
                static_cast<unsigned long long>(hostile), took.count());
    return 0;
}
