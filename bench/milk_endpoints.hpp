// The milk rows speak bench.contract through the endpoints milkc generates
// from it, exactly as a user's program would: typestate endpoints, one
// `send` per message, `receive` with one handler per message. The same code
// runs over every transport (inproc, process); only how the channel is
// opened differs.
#pragma once

#include "bench.hpp"  // generated from bench.contract by milk_add_contract()
#include "cases.hpp"

#include <milk/doorbell.hpp>
#include <milk/result.hpp>

#include <string>
#include <utility>

namespace milk::bench {

// The exchange heap each side of a milk `bytes` row gets: the default 4 MiB,
// or the power of two that holds the buffer (so a 256 MiB row's channel is
// what a user moving 256 MiB buffers would configure).
[[nodiscard]] inline std::uint32_t heap_bytes_for(std::size_t buffer_bytes) {
    std::uint32_t bytes = 4u << 20;
    while (bytes < buffer_bytes) bytes *= 2;
    return bytes;
}

using ClientIdle = Bench::Client<Bench::state::Idle>;
using ServerIdle = Bench::Server<Bench::state::Idle>;

// Stops the run with "<where>: <doing>: <milk error>".
[[noreturn]] void fatal_milk(const std::string& where, const char* doing, const milk::Error& error);

// The value of a successful result; stops the run otherwise.
template <typename T>
[[nodiscard]] T take(milk::Result<T>&& result, const std::string& where, const char* doing) {
    if (!result.ok()) fatal_milk(where, doing, result.error());
    return std::move(result).value();
}

// How each MilkWait is configured, and its names in the JSON and the table.
[[nodiscard]] milk::WaitPolicy wait_policy(MilkWait wait);
[[nodiscard]] const char* wait_id(MilkWait wait);
[[nodiscard]] const char* wait_label(MilkWait wait);

// The server: answers Ping with Pong, hands every Blob's buffer straight back
// in a BlobBack (after checking it as `touch` says), counts streamed Items,
// until the client says Bye.
void serve_bench(ServerIdle server, Touch touch, const std::string& where);

// The client's side of a latency row: 64-byte round trips (Ping/Pong), then
// a stream of Items, then Bye. Fills row.samples and row.stream.
void run_bench_latency(const CaseContext& context, ClientIdle client, LatencyRow& row);

// The client's side of a `bytes` row: Blob/BlobBack round trips with one
// buffer of row.size bytes that travels back and forth, then Bye.
void run_bench_bytes(const CaseContext& context, ClientIdle client, BytesRow& row);

}  // namespace milk::bench
