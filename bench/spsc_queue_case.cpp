// The queue a user would otherwise pick: Boost.Lockfree's spsc_queue (from
// libboost-dev, which milk already depends on) of the same 64-byte slots,
// 256 per direction like milk's default ring, driven by the same ping-pong
// and stream as the raw ring. It is a peer, not a floor: a well-kept
// library queue with no validation, no doorbells and no typed protocol.
#include "queue_case.hpp"

#include <boost/lockfree/spsc_queue.hpp>

namespace milk::bench {
namespace {

struct BoostSpscQueue {
    using Shared = boost::lockfree::spsc_queue<Slot, boost::lockfree::capacity<256>>;

    class Producer {
    public:
        explicit Producer(Shared& queue) : m_queue(&queue) {}
        [[nodiscard]] bool try_push(const Slot& slot) { return m_queue->push(slot); }

    private:
        Shared* m_queue;
    };

    class Consumer {
    public:
        explicit Consumer(Shared& queue) : m_queue(&queue) {}
        [[nodiscard]] bool try_pop(Slot& slot) { return m_queue->pop(slot); }

    private:
        Shared* m_queue;
    };
};

}  // namespace

LatencyRow run_boost_spsc_queue(const CaseContext& context) {
    return run_queue_case<BoostSpscQueue>(context, "boost_spsc_queue", "Boost.Lockfree spsc_queue, spin");
}

}  // namespace milk::bench
