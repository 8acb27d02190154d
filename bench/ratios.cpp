// The ratios the issue sets targets for, from the rows of one run. Latency
// ratios compare medians (p50): the median is what a typical message sees
// and, unlike the mean or p99, is not dragged around by the other jobs
// sharing the machine. Throughput ratios compare one-way stream rates.
#include "results.hpp"


namespace milk::bench {
namespace {

struct Operand {
    std::optional<double> value;
    std::string name;  // for the note when missing
    std::string note;  // why it is missing
};

Operand p50_of(const Results& results, const std::string& id) {
    const LatencyRow* row = results.find_latency(id);
    if (row == nullptr) return {std::nullopt, id, id + " was not run"};
    if (!row->measured) return {std::nullopt, id, id + ": " + row->note};
    return {row->latency.p50_ns, id, ""};
}

Operand mean_of(const Results& results, const std::string& id) {
    const LatencyRow* row = results.find_latency(id);
    if (row == nullptr) return {std::nullopt, id, id + " was not run"};
    if (!row->measured) return {std::nullopt, id, id + ": " + row->note};
    return {row->latency.mean_ns, id, ""};
}

Operand stream_of(const Results& results, const std::string& id) {
    const LatencyRow* row = results.find_latency(id);
    if (row == nullptr) return {std::nullopt, id, id + " was not run"};
    if (!row->measured) return {std::nullopt, id, id + ": " + row->note};
    if (!row->stream) return {std::nullopt, id, id + " has no stream figure"};
    return {row->stream->per_second(), id, ""};
}

Operand bytes_p50_of(const Results& results, const std::string& id, std::size_t size) {
    const std::string name = id + " " + size_label(size);
    const BytesRow* row = results.find_bytes(id, Touch::Stamp, size);
    if (row == nullptr) return {std::nullopt, name, name + " was not run"};
    if (!row->measured) return {std::nullopt, name, name + ": " + row->note};
    return {row->latency.p50_ns, name, ""};
}

Ratio make_ratio(std::string id, std::string label, std::string definition, const Operand& top,
                 const Operand& bottom, std::optional<double> target, Comparison comparison) {
    Ratio ratio;
    ratio.id = std::move(id);
    ratio.label = std::move(label);
    ratio.definition = std::move(definition);
    ratio.target = target;
    ratio.comparison = comparison;
    if (!top.value) ratio.note = top.note;
    else if (!bottom.value) ratio.note = bottom.note;
    else if (*bottom.value <= 0) ratio.note = bottom.name + " is zero";
    else ratio.value = *top.value / *bottom.value;
    return ratio;
}

}  // namespace

const char* Ratio::verdict() const {
    if (!target) return "";
    if (!value) return "not measured";
    return pass() ? "PASS" : "MISS";
}

std::vector<Ratio> compute_ratios(const Results& r) {
    std::vector<Ratio> ratios;
    const auto add = [&ratios](Ratio ratio) { ratios.push_back(std::move(ratio)); };

    for (const char* transport : {"inproc", "process"}) {
        const std::string t = transport;
        const std::string spin = "milk_" + t + "_spin";
        const std::string blocking = "milk_" + t + "_blocking";
        const std::string bytes = "milk_" + t;

        add(make_ratio("spin_vs_cache_line_" + t, "milk " + t + " spin RT / (2 x cache-line transfer)",
                       "p50(" + spin + ") / p50(cas_ping_pong); a CAS round trip is two cache-line transfers",
                       p50_of(r, spin), p50_of(r, "cas_ping_pong"), 2.0, Comparison::AtMost));
        if (t == "inproc") {
            add(make_ratio("inproc_vs_raw_ring_latency", "milk inproc spin RT / raw ring RT",
                           "p50(milk_inproc_spin) / p50(raw_ring)", p50_of(r, spin), p50_of(r, "raw_ring"), 1.1,
                           Comparison::AtMost));
            add(make_ratio("inproc_vs_raw_ring_throughput", "milk inproc stream / raw ring stream",
                           "messages/s streamed one way, milk_inproc_spin / raw_ring", stream_of(r, spin),
                           stream_of(r, "raw_ring"), 0.9, Comparison::AtLeast));
        }
        for (const char* kernel : {"pipe", "unix_socket", "eventfd"}) {
            const std::string k = kernel;
            add(make_ratio(k + "_vs_milk_" + t + "_spin", k + " RT / milk " + t + " spin RT",
                           "p50(" + k + ") / p50(" + spin + ")", p50_of(r, k), p50_of(r, spin), 30.0,
                           Comparison::AtLeast));
        }
        // Like against like: threads against eventfd between threads,
        // processes against eventfd between processes.
        const std::string eventfd = t == "inproc" ? "eventfd" : "eventfd_process";
        add(make_ratio("milk_" + t + "_blocking_vs_eventfd", "milk " + t + " blocking RT / " + eventfd + " RT",
                       "p50(" + blocking + ") / p50(" + eventfd + "); both sides sleep in the kernel every time",
                       p50_of(r, blocking), p50_of(r, eventfd), 1.05, Comparison::AtMost));
        // Zero copy: a buffer's round trip costs the same at every size.
        for (std::size_t size : {std::size_t{1} << 20, std::size_t{16} << 20, std::size_t{256} << 20}) {
            const std::string label = size_label(size);
            const std::string suffix = size == (std::size_t{1} << 20) ? "" : "_" + std::to_string(size >> 20) + "mib";
            add(make_ratio("zero_copy_" + t + suffix, "milk " + t + " bytes RT, " + label + " / 64 B",
                           "p50(" + bytes + ", " + label + ", stamp) / p50(" + bytes + ", 64 B, stamp)",
                           bytes_p50_of(r, bytes, size), bytes_p50_of(r, bytes, 64), 1.2, Comparison::AtMost));
        }
    }

    // Without targets: where the distance to the floors comes from.
    add(make_ratio("region_transport_vs_raw_ring", "RegionTransport spin RT / raw ring RT",
                   "p50(region_transport_spin) / p50(raw_ring): the checked ring, doorbells, closed flags",
                   p50_of(r, "region_transport_spin"), p50_of(r, "raw_ring"), std::nullopt, Comparison::AtMost));
    add(make_ratio("generated_vs_region_transport", "milk inproc spin RT / RegionTransport spin RT",
                   "p50(milk_inproc_spin) / p50(region_transport_spin): generated endpoints, ChannelEnd, codec",
                   p50_of(r, "milk_inproc_spin"), p50_of(r, "region_transport_spin"), std::nullopt,
                   Comparison::AtMost));
    add(make_ratio("region_transport_vs_raw_ring_throughput", "RegionTransport stream / raw ring stream",
                   "messages/s streamed one way, region_transport_spin / raw_ring",
                   stream_of(r, "region_transport_spin"), stream_of(r, "raw_ring"), std::nullopt,
                   Comparison::AtLeast));
    // The sleeping round trips of this machine spread over tens of
    // microseconds (the host's wake-up of an idle vCPU), so their p50 moves
    // between runs by more than the 5% target; the means, over the same
    // samples, show whether one is really slower than the other.
    for (const char* transport : {"inproc", "process"}) {
        const std::string t = transport;
        const std::string eventfd = t == "inproc" ? "eventfd" : "eventfd_process";
        add(make_ratio("milk_" + t + "_blocking_vs_eventfd_mean",
                       "milk " + t + " blocking / " + eventfd + ", means",
                       "mean(milk_" + t + "_blocking) / mean(" + eventfd + ")", mean_of(r, "milk_" + t + "_blocking"),
                       mean_of(r, eventfd), std::nullopt, Comparison::AtMost));
    }
    // The peer a user would otherwise pick: milk should be ahead of it.
    add(make_ratio("boost_spsc_vs_milk_latency", "Boost spsc_queue RT / milk inproc spin RT",
                   "p50(boost_spsc_queue) / p50(milk_inproc_spin): above 1, milk is faster",
                   p50_of(r, "boost_spsc_queue"), p50_of(r, "milk_inproc_spin"), std::nullopt, Comparison::AtLeast));
    add(make_ratio("milk_vs_boost_spsc_throughput", "milk inproc stream / Boost spsc_queue stream",
                   "messages/s streamed one way, milk_inproc_spin / boost_spsc_queue: above 1, milk is faster",
                   stream_of(r, "milk_inproc_spin"), stream_of(r, "boost_spsc_queue"), std::nullopt,
                   Comparison::AtLeast));
    add(make_ratio("raw_ring_vs_cache_line", "raw ring RT / (2 x cache-line transfer)",
                   "p50(raw_ring) / p50(cas_ping_pong)", p50_of(r, "raw_ring"), p50_of(r, "cas_ping_pong"),
                   std::nullopt, Comparison::AtMost));
    // Whether a ring whose slots publish themselves (one cache line per
    // message instead of two) would pay on this machine: D44.
    add(make_ratio("sequenced_raw_ring_vs_raw_ring", "sequenced raw ring RT / raw ring RT",
                   "p50(sequenced_raw_ring) / p50(raw_ring): slots that publish themselves, against an index",
                   p50_of(r, "sequenced_raw_ring"), p50_of(r, "raw_ring"), std::nullopt, Comparison::AtMost));
    add(make_ratio("sequenced_raw_ring_vs_raw_ring_throughput", "sequenced raw ring stream / raw ring stream",
                   "messages/s streamed one way, sequenced_raw_ring / raw_ring", stream_of(r, "sequenced_raw_ring"),
                   stream_of(r, "raw_ring"), std::nullopt, Comparison::AtLeast));
    add(make_ratio("bytes_handle_cost", "milk inproc bytes 64 B RT / milk inproc spin RT",
                   "p50(milk_inproc, 64 B, stamp) / p50(milk_inproc_spin): exporting and importing a buffer",
                   bytes_p50_of(r, "milk_inproc", 64), p50_of(r, "milk_inproc_spin"), std::nullopt,
                   Comparison::AtMost));
    add(make_ratio("zero_copy_4kib", "milk inproc bytes RT, 1 MiB / 4 KiB",
                   "p50(milk_inproc, 1 MiB, stamp) / p50(milk_inproc, 4 KiB, stamp): a page against 256 pages",
                   bytes_p50_of(r, "milk_inproc", 1048576), bytes_p50_of(r, "milk_inproc", 4096), std::nullopt,
                   Comparison::AtMost));
    add(make_ratio("pipe_1mib_vs_milk_1mib", "pipe bytes RT / milk inproc bytes RT, 1 MiB",
                   "p50(pipe, 1 MiB, stamp) / p50(milk_inproc, 1 MiB, stamp)", bytes_p50_of(r, "pipe", 1048576),
                   bytes_p50_of(r, "milk_inproc", 1048576), std::nullopt, Comparison::AtLeast));
    add(make_ratio("pipe_zero_copy", "pipe bytes RT, 1 MiB / 64 B",
                   "p50(pipe, 1 MiB, stamp) / p50(pipe, 64 B, stamp): what copying costs",
                   bytes_p50_of(r, "pipe", 1048576), bytes_p50_of(r, "pipe", 64), std::nullopt,
                   Comparison::AtMost));
    return ratios;
}

const LatencyRow* Results::find_latency(const std::string& id) const {
    for (const LatencyRow& row : latency)
        if (row.id == id) return &row;
    return nullptr;
}

const BytesRow* Results::find_bytes(const std::string& id, Touch touch, std::size_t size) const {
    for (const BytesRow& row : bytes)
        if (row.id == id && row.touch == touch && row.size == size) return &row;
    return nullptr;
}

const MemcpyRow* Results::find_memcpy(std::size_t size) const {
    for (const MemcpyRow& row : memcpy)
        if (row.size == size) return &row;
    return nullptr;
}

std::string size_label(std::size_t size) {
    if (size >= (1u << 20) && size % (1u << 20) == 0) return std::to_string(size >> 20) + " MiB";
    if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + " KiB";
    return std::to_string(size) + " B";
}

}  // namespace milk::bench
