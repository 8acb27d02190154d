// A run's results and what is made of them: the ratios against their
// targets, the printed table, the JSON file and the plot.
#pragma once

#include "cases.hpp"

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace milk::bench {

// The sizes of the `bytes` rows: up to 256 MiB, so that a cost that grows
// with the size (a page table walk, a bitmap over the region) shows.
inline constexpr std::size_t bytes_sizes[] = {64, 4096, 65536, 1u << 20, 16u << 20, 256u << 20};

// Where and how the run happened, for the report.
struct RunInfo {
    std::string cpu_model;
    std::string kernel;
    std::string compiler;
    std::string build_type;
    std::string started_at;  // UTC, ISO 8601
    double load_before[3] = {0, 0, 0};
    double load_after[3] = {0, 0, 0};
    double seconds = 0;  // the whole run
    std::size_t rounds = 1;
    CaseContext context;  // with the limits of the whole run (each round gets its share)
};

struct Results {
    std::vector<LatencyRow> latency;
    std::vector<BytesRow> bytes;
    std::vector<MemcpyRow> memcpy;

    [[nodiscard]] const LatencyRow* find_latency(const std::string& id) const;
    [[nodiscard]] const BytesRow* find_bytes(const std::string& id, Touch touch, std::size_t size) const;
    [[nodiscard]] const MemcpyRow* find_memcpy(std::size_t size) const;
};

enum class Comparison : std::uint8_t { AtMost, AtLeast };

struct Ratio {
    std::string id;
    std::string label;       // "milk inproc spin / (2 x cache-line transfer)"
    std::string definition;  // how it is computed, from which rows
    std::optional<double> value;  // empty when an input was not measured
    std::optional<double> target; // empty for the informative ratios
    Comparison comparison = Comparison::AtMost;
    std::string note;        // why there is no value

    [[nodiscard]] bool has_target() const { return target.has_value(); }
    [[nodiscard]] bool pass() const {
        if (!value || !target) return false;
        return comparison == Comparison::AtMost ? *value <= *target : *value >= *target;
    }
    // "PASS", "MISS", "not measured" or "" (no target).
    [[nodiscard]] const char* verdict() const;
};

// The ratios (with targets) and a few that explain them (without).
[[nodiscard]] std::vector<Ratio> compute_ratios(const Results& results);

void print_report(std::FILE* out, const RunInfo& info, const Results& results, const std::vector<Ratio>& ratios);

// False (with a message on stderr) if the file cannot be written.
[[nodiscard]] bool write_json(const std::string& path, const RunInfo& info, const Results& results,
                              const std::vector<Ratio>& ratios);

// Writes <dir>/round-trip-vs-size.dat and .gp; runs gnuplot on it when
// `run_gnuplot`, which writes <dir>/round-trip-vs-size.png. False (with a
// message) if something failed.
[[nodiscard]] bool write_plot(const std::string& dir, const Results& results, bool run_gnuplot);

// "64 B", "4 KiB", "1 MiB".
[[nodiscard]] std::string size_label(std::size_t size);

}  // namespace milk::bench
