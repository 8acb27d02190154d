// The machine-readable report: one JSON object with the run's setting, every
// row and every ratio. Numbers are in nanoseconds and per second; a row or
// ratio that could not be measured has "measured": false (or "value": null)
// and a note saying why, never a made-up number.
#include "results.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace milk::bench {
namespace {

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += escaped;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

std::string json_number(double value) {
    if (!std::isfinite(value)) return "null";
    char text[64];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

// `rate_key` names what one sample is: a round trip, or a copy.
std::string latency_json(const LatencyStats& s, const char* rate_key = "round_trips_per_second") {
    std::ostringstream out;
    out << "{\"samples\": " << s.count << ", \"min_ns\": " << json_number(s.min_ns)
        << ", \"p50_ns\": " << json_number(s.p50_ns) << ", \"p99_ns\": " << json_number(s.p99_ns)
        << ", \"max_ns\": " << json_number(s.max_ns) << ", \"mean_ns\": " << json_number(s.mean_ns)
        << ", \"" << rate_key << "\": " << json_number(s.per_second()) << "}";
    return out.str();
}

std::string limits_json(const RunLimits& limits) {
    std::ostringstream out;
    out << "{\"iterations\": " << limits.iterations << ", \"warmup\": " << limits.warmup
        << ", \"max_seconds\": " << json_number(limits.max_seconds)
        << ", \"warmup_seconds\": " << json_number(limits.warmup_seconds) << "}";
    return out.str();
}

}  // namespace

bool write_json(const std::string& path, const RunInfo& info, const Results& results,
                const std::vector<Ratio>& ratios) {
    const CaseContext& c = info.context;
    std::ostringstream j;
    j << "{\n  \"schema\": \"milk-bench/1\",\n";
    j << "  \"started_at\": " << quoted(info.started_at) << ",\n";
    j << "  \"seconds\": " << json_number(info.seconds) << ",\n";
    j << "  \"machine\": {\"cpu_model\": " << quoted(info.cpu_model) << ", \"available_cpus\": "
      << c.cpus.available_cpus << ", \"kernel\": " << quoted(info.kernel)
      << ", \"load_average_before\": [" << json_number(info.load_before[0]) << ", "
      << json_number(info.load_before[1]) << ", " << json_number(info.load_before[2]) << "]"
      << ", \"load_average_after\": [" << json_number(info.load_after[0]) << ", " << json_number(info.load_after[1])
      << ", " << json_number(info.load_after[2]) << "]},\n";
    j << "  \"build\": {\"compiler\": " << quoted(info.compiler) << ", \"build_type\": " << quoted(info.build_type)
      << "},\n";
    j << "  \"pinning\": {\"client_cpu\": " << c.cpus.client_cpu << ", \"server_cpu\": " << c.cpus.server_cpu
      << ", \"warning\": " << (c.cpus.warning.empty() ? "null" : quoted(c.cpus.warning)) << "},\n";
    j << "  \"timer\": {\"source\": " << quoted(c.clock.source()) << ", \"ns_per_tick\": "
      << json_number(c.clock.ns_per_tick()) << ", \"read_cost_ns\": " << json_number(c.clock.read_cost_ns())
      << "},\n";
    j << "  \"limits\": {\"rounds\": " << info.rounds << ", \"round_trip\": " << limits_json(c.latency) << ", \"bytes\": " << limits_json(c.bytes)
      << ", \"stream\": {\"messages\": " << c.stream.messages << ", \"warmup\": " << c.stream.warmup
      << ", \"max_seconds\": " << json_number(c.stream.max_seconds) << "}},\n";

    j << "  \"round_trip\": [";
    for (std::size_t i = 0; i < results.latency.size(); ++i) {
        const LatencyRow& row = results.latency[i];
        j << (i ? ",\n    " : "\n    ") << "{\"id\": " << quoted(row.id) << ", \"label\": " << quoted(row.label)
          << ", \"message_bytes\": 64, \"measured\": " << (row.measured ? "true" : "false")
          << ", \"note\": " << (row.note.empty() ? "null" : quoted(row.note));
        if (row.measured) {
            j << ", \"latency\": " << latency_json(row.latency);
            if (row.stream)
                j << ", \"stream\": {\"messages\": " << row.stream->messages
                  << ", \"seconds\": " << json_number(row.stream->seconds)
                  << ", \"messages_per_second\": " << json_number(row.stream->per_second()) << "}";
            else
                j << ", \"stream\": null";
        }
        j << "}";
    }
    j << "\n  ],\n";

    j << "  \"bytes\": [";
    for (std::size_t i = 0; i < results.bytes.size(); ++i) {
        const BytesRow& row = results.bytes[i];
        j << (i ? ",\n    " : "\n    ") << "{\"id\": " << quoted(row.id) << ", \"label\": " << quoted(row.label)
          << ", \"touch\": " << quoted(touch_name(row.touch)) << ", \"size\": " << row.size
          << ", \"measured\": " << (row.measured ? "true" : "false")
          << ", \"note\": " << (row.note.empty() ? "null" : quoted(row.note));
        if (row.measured) j << ", \"latency\": " << latency_json(row.latency);
        j << "}";
    }
    j << "\n  ],\n";

    j << "  \"memcpy\": [";
    for (std::size_t i = 0; i < results.memcpy.size(); ++i) {
        const MemcpyRow& row = results.memcpy[i];
        j << (i ? ",\n    " : "\n    ") << "{\"size\": " << row.size << ", \"latency\": " << latency_json(row.latency, "copies_per_second")
          << ", \"bytes_per_second\": "
          << json_number(row.latency.p50_ns > 0 ? static_cast<double>(row.size) / row.latency.p50_ns * 1e9 : 0)
          << "}";
    }
    j << "\n  ],\n";

    j << "  \"ratios\": [";
    for (std::size_t i = 0; i < ratios.size(); ++i) {
        const Ratio& ratio = ratios[i];
        j << (i ? ",\n    " : "\n    ") << "{\"id\": " << quoted(ratio.id) << ", \"label\": " << quoted(ratio.label)
          << ", \"definition\": " << quoted(ratio.definition)
          << ", \"value\": " << (ratio.value ? json_number(*ratio.value) : "null");
        if (ratio.target) {
            j << ", \"target\": " << json_number(*ratio.target) << ", \"comparison\": "
              << quoted(ratio.comparison == Comparison::AtMost ? "<=" : ">=") << ", \"result\": "
              << quoted(ratio.verdict());
        } else {
            j << ", \"target\": null";
        }
        j << ", \"note\": " << (ratio.note.empty() ? "null" : quoted(ratio.note)) << "}";
    }
    j << "\n  ]\n}\n";

    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << j.str();
    file.close();
    if (!file) {
        std::fprintf(stderr, "milk-bench: cannot write %s\n", path.c_str());
        return false;
    }
    return true;
}

}  // namespace milk::bench
