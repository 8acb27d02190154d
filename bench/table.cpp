// The human-readable report milk-bench prints.
#include "results.hpp"

#include <string>

namespace milk::bench {
namespace {

std::string number(double value, int precision = 0) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", precision, value);
    return text;
}

// 1234567 -> "1.23 M"
std::string rate(double per_second) {
    if (per_second >= 1e6) return number(per_second / 1e6, 2) + " M";
    if (per_second >= 1e3) return number(per_second / 1e3, 1) + " k";
    return number(per_second, 0);
}

void print_latency(std::FILE* out, const Results& results) {
    std::fprintf(out, "\nRound trips: one 64-byte message each way (ns; p50/p99 over the timed round trips after warm-up)\n");
    std::fprintf(out, "%-44s %9s %9s %9s %12s %14s %8s\n", "", "p50", "p99", "mean", "round trips/s",
                 "stream msgs/s", "samples");
    for (const LatencyRow& row : results.latency) {
        if (!row.measured) {
            std::fprintf(out, "%-44s %s\n", row.label.c_str(), row.note.c_str());
            continue;
        }
        const LatencyStats& s = row.latency;
        std::fprintf(out, "%-44s %9s %9s %9s %12s %14s %8zu\n", row.label.c_str(), number(s.p50_ns).c_str(),
                     number(s.p99_ns).c_str(), number(s.mean_ns).c_str(), rate(s.per_second()).c_str(),
                     row.stream ? rate(row.stream->per_second()).c_str() : "-", s.count);
    }
}

void print_bytes(std::FILE* out, const Results& results, Touch touch) {
    std::fprintf(out, "\n`bytes` round trips, touch = %s (%s); p50 / p99 ns\n", touch_name(touch),
                 touch == Touch::Stamp ? "the application writes and reads the first 8 bytes"
                                       : "the sender writes every byte, the receiver reads every byte");
    std::fprintf(out, "%-24s", "");
    for (std::size_t size : bytes_sizes) std::fprintf(out, " %22s", size_label(size).c_str());
    std::fprintf(out, "\n");
    std::vector<std::string> transports;
    for (const BytesRow& row : results.bytes) {
        if (row.touch != touch) continue;
        bool seen = false;
        for (const std::string& t : transports) seen = seen || t == row.id;
        if (!seen) transports.push_back(row.id);
    }
    for (const std::string& id : transports) {
        std::string label = id;
        std::string note;
        std::string cells;
        for (std::size_t size : bytes_sizes) {
            const BytesRow* row = results.find_bytes(id, touch, size);
            std::string cell = "-";
            if (row != nullptr) {
                label = row->label;
                if (row->measured) cell = number(row->latency.p50_ns) + " / " + number(row->latency.p99_ns);
                else note = row->note;
            }
            char padded[64];
            std::snprintf(padded, sizeof padded, " %22s", cell.c_str());
            cells += padded;
        }
        if (!note.empty()) std::fprintf(out, "%-24s %s\n", label.c_str(), note.c_str());
        else std::fprintf(out, "%-24s%s\n", label.c_str(), cells.c_str());
    }
    if (touch == Touch::Stamp && !results.memcpy.empty()) {
        std::fprintf(out, "%-24s", "memcpy, one copy");
        for (std::size_t size : bytes_sizes) {
            const MemcpyRow* row = results.find_memcpy(size);
            std::string cell = row ? number(row->latency.p50_ns) + " / " + number(row->latency.p99_ns) : "-";
            std::fprintf(out, " %22s", cell.c_str());
        }
        std::fprintf(out, "\n%-24s", "memcpy bandwidth");
        for (std::size_t size : bytes_sizes) {
            const MemcpyRow* row = results.find_memcpy(size);
            std::string cell = row && row->latency.p50_ns > 0
                                   ? number(static_cast<double>(size) / row->latency.p50_ns, 1) + " GB/s"
                                   : "-";
            std::fprintf(out, " %22s", cell.c_str());
        }
        std::fprintf(out, "\n");
    }
}

void print_ratios(std::FILE* out, const std::vector<Ratio>& ratios) {
    std::fprintf(out, "\nRatios (latency: p50 round trips; throughput: one-way stream rates)\n");
    std::fprintf(out, "%-48s %9s %9s  %s\n", "", "value", "target", "result");
    for (const Ratio& ratio : ratios) {
        if (!ratio.has_target()) continue;
        const std::string target = std::string(ratio.comparison == Comparison::AtMost ? "<= " : ">= ") +
                                   number(*ratio.target, 2);
        if (ratio.value)
            std::fprintf(out, "%-48s %9s %9s  %s\n", ratio.label.c_str(), number(*ratio.value, 2).c_str(),
                         target.c_str(), ratio.verdict());
        else
            std::fprintf(out, "%-48s %9s %9s  %s (%s)\n", ratio.label.c_str(), "-", target.c_str(), ratio.verdict(),
                         ratio.note.c_str());
    }
    std::fprintf(out, "\nWhere the distance comes from (no targets)\n");
    for (const Ratio& ratio : ratios) {
        if (ratio.has_target()) continue;
        std::fprintf(out, "%-48s %9s\n", ratio.label.c_str(), ratio.value ? number(*ratio.value, 2).c_str() : "-");
    }
}

}  // namespace

void print_report(std::FILE* out, const RunInfo& info, const Results& results, const std::vector<Ratio>& ratios) {
    const CaseContext& c = info.context;
    std::fprintf(out, "milk-bench: %s build, %s\n", info.build_type.c_str(), info.compiler.c_str());
    std::fprintf(out, "machine: %s, %d CPUs available, Linux %s\n", info.cpu_model.c_str(), c.cpus.available_cpus,
                 info.kernel.c_str());
    if (c.cpus.warning.empty())
        std::fprintf(out, "client pinned to CPU %d, server to CPU %d\n", c.cpus.client_cpu, c.cpus.server_cpu);
    else
        std::fprintf(out, "WARNING: %s\n", c.cpus.warning.c_str());
    std::fprintf(out, "load average before %.2f %.2f %.2f, after %.2f %.2f %.2f (1, 5, 15 min)\n", info.load_before[0],
                 info.load_before[1], info.load_before[2], info.load_after[0], info.load_after[1], info.load_after[2]);
    std::fprintf(out, "timer: %s, %.3f ns/tick; one reading costs %.1f ns and every sample includes one\n",
                 c.clock.source(), c.clock.ns_per_tick(), c.clock.read_cost_ns());
    std::fprintf(out,
                 "limits per row: %zu round trips (%.1f s max), %zu bytes round trips (%.1f s max), %zu streamed "
                 "(%.1f s max), spread over %zu rounds\n",
                 c.latency.iterations, c.latency.max_seconds, c.bytes.iterations, c.bytes.max_seconds, c.stream.messages,
                 c.stream.max_seconds, info.rounds);
    print_latency(out, results);
    print_bytes(out, results, Touch::Stamp);
    print_bytes(out, results, Touch::Full);
    print_ratios(out, ratios);
    std::fprintf(out, "\nrun took %.1f s\n", info.seconds);
}

}  // namespace milk::bench
