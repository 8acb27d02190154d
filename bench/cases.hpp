// Every case milk-bench runs, and what each one reports.
//
// A "latency" case is a ping-pong of 64-byte messages between the client
// (this thread, pinned to one CPU) and a server (a thread or process pinned to
// the other): the client sends, the server answers, the client waits for the
// answer, and one round trip is one sample. Cases whose transport is a queue
// also stream one-way messages for a throughput figure.
//
// A "bytes" case is the same ping-pong with a payload of 64 B .. 1 MiB; see
// payload.hpp for exactly which bytes each side writes and reads.
#pragma once

#include "clock.hpp"
#include "measure.hpp"
#include "payload.hpp"
#include "stats.hpp"
#include "support.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace milk::bench {

struct CaseContext {
    TickClock clock;
    CpuPlan cpus;
    RunLimits latency;
    RunLimits bytes;
    StreamLimits stream;
};

struct LatencyRow {
    std::string id;     // stable key in the JSON: "milk_inproc_spin"
    std::string label;  // what the table prints
    bool measured = false;
    std::string note;   // why not measured, or a caveat
    std::vector<std::uint64_t> samples;  // round trips, in ticks, of all rounds
    LatencyStats latency;                // summarised from `samples` after the last round
    std::optional<StreamResult> stream;  // one-way throughput, where the transport is a queue
};

struct BytesRow {
    std::string id;     // the transport: "milk_inproc", "pipe", ...
    std::string label;
    Touch touch = Touch::Stamp;
    std::size_t size = 0;
    bool measured = false;
    std::string note;
    std::vector<std::uint64_t> samples;
    LatencyStats latency;
};

struct MemcpyRow {
    std::size_t size = 0;
    std::vector<std::uint64_t> samples;
    LatencyStats latency;  // one memcpy of `size` bytes per sample
};

// How a milk endpoint waits for its peer.
enum class MilkWait : std::uint8_t {
    Spin,       // WaitMode::Poll: never sleeps
    Blocking,   // SpinThenSleep with a zero spin budget: sleeps at once
    Default,    // the default options: spin 10 us, then sleep
};

// Hardware and hand-written floors.
[[nodiscard]] LatencyRow run_cas_ping_pong(const CaseContext& context);
[[nodiscard]] LatencyRow run_raw_ring(const CaseContext& context);
[[nodiscard]] LatencyRow run_sequenced_raw_ring(const CaseContext& context);
// A peer: the library queue a user would otherwise pick.
[[nodiscard]] LatencyRow run_boost_spsc_queue(const CaseContext& context);

// Where the server of a kernel IPC baseline runs.
enum class Placement : std::uint8_t { Threads, Processes };

// Kernel IPC baselines.
[[nodiscard]] LatencyRow run_pipe(const CaseContext& context);
[[nodiscard]] LatencyRow run_eventfd(const CaseContext& context, Placement placement);
[[nodiscard]] LatencyRow run_unix_socket(const CaseContext& context);
[[nodiscard]] BytesRow run_pipe_bytes(const CaseContext& context, std::size_t size, Touch touch);
[[nodiscard]] BytesRow run_unix_socket_bytes(const CaseContext& context, std::size_t size, Touch touch);
[[nodiscard]] MemcpyRow run_memcpy(const CaseContext& context, std::size_t size);

// milk in one process: the generated endpoints over inproc channels, and the
// bare RegionTransport underneath them (no generated code).
[[nodiscard]] LatencyRow run_milk_inproc(const CaseContext& context, MilkWait wait);
[[nodiscard]] LatencyRow run_region_transport(const CaseContext& context, MilkWait wait);
[[nodiscard]] BytesRow run_milk_inproc_bytes(const CaseContext& context, std::size_t size, Touch touch);

// milk across processes: the generated endpoints over the process transport.
// Rows come back with measured == false (and the reason) when this build has
// no process transport.
[[nodiscard]] LatencyRow run_milk_process(const CaseContext& context, MilkWait wait);
[[nodiscard]] BytesRow run_milk_process_bytes(const CaseContext& context, std::size_t size, Touch touch);

}  // namespace milk::bench
