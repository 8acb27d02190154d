// The Chrome / Perfetto trace-event JSON of a Host's trace
// (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU):
// one process per instance (its name and component), one thread per
// channel, a thread 0 for the instance's own moves and restarts. Messages
// are instant events named by the message, with the contract, the tag, who
// spoke and the protocol state before and after in `args`; waits for a
// message are complete ("X") events; moves are complete events on thread 0.
#include <milk/host/host.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace milk::host {
namespace {

// A JSON string's body: quotes, backslashes and control characters escaped.
std::string escaped(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
            else out += c;
        }
    }
    return out;
}

}  // namespace

std::string trace_to_json(const Trace& trace) {
    const std::uint64_t origin = trace.events.empty() ? 0 : trace.events.front().time_ns;
    // Microseconds since the first event, as the format wants them.
    const auto micros = [origin](std::uint64_t ns) { return static_cast<double>(ns - origin) / 1000.0; };
    std::map<std::string, int> pids;
    std::map<std::pair<int, std::uint64_t>, bool> threads;
    std::string body;
    const auto append = [&body](const std::string& event) {
        if (!body.empty()) body += ",\n";
        body += event;
    };
    for (const TraceEvent& event : trace.events) {
        auto [found, added] = pids.emplace(event.instance, static_cast<int>(pids.size()) + 1);
        const int pid = found->second;
        if (added) {
            append(fmt::format(R"j({{"name":"process_name","ph":"M","pid":{},"args":{{"name":"{} ({})"}}}})j", pid,
                               escaped(event.instance), escaped(event.contract)));
            append(fmt::format(R"j({{"name":"thread_name","ph":"M","pid":{},"tid":0,"args":{{"name":"moves and restarts"}}}})j",
                               pid));
        }
        if (event.channel != 0 && threads.emplace(std::pair{pid, event.channel}, true).second) {
            const std::string name = event.channel >= kernel_trace_channel_base
                                         ? fmt::format("kernel channel {}", event.channel - kernel_trace_channel_base)
                                     : event.channel >= 1'000'000
                                         ? fmt::format("channel (slot {})", event.channel - 1'000'000)
                                         : fmt::format("channel {}", event.channel);
            append(fmt::format(R"j({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":"{}"}}}})j", pid,
                               event.channel, name));
        }
        switch (event.kind) {
        case TraceEvent::Kind::Message:
            append(fmt::format(
                R"j({{"name":"{}","cat":"message","ph":"i","s":"t","ts":{:.3f},"pid":{},"tid":{},)j"
                R"j("args":{{"contract":"{}","tag":{},"from":"{}","state_before":"{}","state_after":"{}"}}}})j",
                escaped(event.name), micros(event.time_ns), pid, event.channel, escaped(event.contract), event.tag,
                event.from_client ? "client" : "component", escaped(event.state_before),
                escaped(event.state_after)));
            break;
        case TraceEvent::Kind::Wait:
            append(fmt::format(
                R"j({{"name":"{}","cat":"wake","ph":"X","ts":{:.3f},"dur":{:.3f},"pid":{},"tid":{},"args":{{"state":"{}"}}}})j",
                escaped(event.name), micros(event.time_ns - event.duration_ns), static_cast<double>(event.duration_ns) / 1000.0, pid,
                event.channel, escaped(event.state_after)));
            break;
        case TraceEvent::Kind::Move:
            append(fmt::format(R"j({{"name":"move {}","cat":"move","ph":"X","ts":{:.3f},"dur":{:.3f},"pid":{},"tid":0}})j",
                               escaped(event.name), micros(event.time_ns), static_cast<double>(event.duration_ns) / 1000.0,
                               pid));
            break;
        case TraceEvent::Kind::Restart:
            append(fmt::format(R"j({{"name":"{}","cat":"restart","ph":"i","s":"p","ts":{:.3f},"pid":{},"tid":0}})j",
                               escaped(event.name), micros(event.time_ns), pid));
            break;
        }
    }
    return fmt::format("{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"dropped_events\":{}}},\"traceEvents\":[\n{}\n]}}\n",
                       trace.dropped, body);
}

}  // namespace milk::host
