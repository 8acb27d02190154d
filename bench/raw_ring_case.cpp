// The floor for milk's design: the same ping-pong and stream over a bare
// SPSC ring of 64-byte slots (raw_ring.hpp), 256 slots per direction like
// milk's default; and over the same ring with slots that publish themselves.
#include "queue_case.hpp"
#include "raw_ring.hpp"

namespace milk::bench {

LatencyRow run_raw_ring(const CaseContext& context) {
    return run_queue_case<RawRing<256>>(context, "raw_ring", "raw SPSC ring, spin");
}

LatencyRow run_sequenced_raw_ring(const CaseContext& context) {
    return run_queue_case<SequencedRawRing<256>>(context, "sequenced_raw_ring", "raw ring, slots publish themselves");
}

}  // namespace milk::bench
