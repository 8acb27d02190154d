// milk-bench: milk's channels against their floors (a raw SPSC ring, a
// cache line bounced between two cores) and against the kernel's IPC (pipe,
// eventfd, Unix socket), in one run, with the two sides pinned to two CPUs.
// Prints a table and the ratios with their targets, and writes
// milk-bench.json and a plot into --out. docs/performance.md explains every
// row and the numbers of a run.
//
// It is a program, not a test: it fails only when something is broken (a
// message lost, a system call failing), never because a number is slow.
#include "cases.hpp"
#include "results.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <sys/utsname.h>

#ifndef MILK_BENCH_BUILD_TYPE
#define MILK_BENCH_BUILD_TYPE "unknown"
#endif

namespace {

using namespace milk::bench;

std::string cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "unknown";
}

std::string kernel_release() {
    utsname name{};
    if (uname(&name) != 0) return "unknown";
    return name.release;
}

std::string compiler() {
#if defined(__clang__)
    return std::string("clang++ ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("g++ ") + __VERSION__;
#else
    return "unknown";
#endif
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

void load_average(double (&load)[3]) {
    if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
}

struct Options {
    std::size_t iterations = 200000;
    double max_seconds = 1.5;
    std::size_t bytes_iterations = 20000;
    double bytes_max_seconds = 0.4;
    std::size_t stream_messages = 1000000;
    double stream_max_seconds = 1.0;
    std::vector<int> cpus;
    std::string out = ".";
    bool no_plot = false;
    std::vector<std::string> only;
    std::size_t rounds = 20;
};

bool selected(const Options& options, const std::string& name) {
    if (options.only.empty()) return true;
    for (const std::string& part : options.only)
        if (name.find(part) != std::string::npos) return true;
    return false;
}

// The limits of one round: its share of the iterations and time budgets.
CaseContext per_round(const CaseContext& whole, std::size_t rounds) {
    CaseContext part = whole;
    const auto share = [rounds](std::size_t n) { return n / rounds > 0 ? n / rounds : 1; };
    const auto share_seconds = [rounds](double seconds) { return seconds / static_cast<double>(rounds); };
    for (RunLimits* limits : {&part.latency, &part.bytes}) {
        limits->iterations = share(limits->iterations);
        limits->warmup = share(limits->warmup);
        limits->max_seconds = share_seconds(limits->max_seconds);
        limits->warmup_seconds = share_seconds(limits->warmup_seconds);
    }
    part.stream.messages = share(part.stream.messages);
    part.stream.warmup = share(part.stream.warmup);
    part.stream.max_seconds = share_seconds(part.stream.max_seconds);
    return part;
}

// Adds one round's row to the row of the whole run.
template <typename Row>
void merge_round(Row& total, Row&& part, std::size_t round) {
    if (round == 0) {
        total = std::move(part);
        return;
    }
    total.samples.insert(total.samples.end(), part.samples.begin(), part.samples.end());
    if constexpr (requires { part.stream; }) {
        if (part.stream) {
            if (total.stream) *total.stream += *part.stream;
            else total.stream = part.stream;
        }
    }
}

RunLimits limits(std::size_t iterations, double max_seconds, double warmup_seconds) {
    RunLimits result;
    result.iterations = iterations;
    result.warmup = iterations / 10 > 0 ? iterations / 10 : 1;
    result.max_seconds = max_seconds;
    result.warmup_seconds = warmup_seconds;
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"milk-bench: milk channels against a raw ring, a cache-line ping-pong, pipe, eventfd and Unix "
                 "sockets. The default run takes well under a minute; raise the limits for steadier numbers."};
    app.add_option("--iterations", options.iterations, "timed 64-byte round trips per row (at most)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--max-seconds", options.max_seconds, "time budget of each round-trip row")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--bytes-iterations", options.bytes_iterations, "timed round trips per `bytes` row (at most)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--bytes-max-seconds", options.bytes_max_seconds, "time budget of each `bytes` row")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--stream-messages", options.stream_messages, "messages per one-way stream (at most)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--stream-max-seconds", options.stream_max_seconds, "time budget of each stream")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--rounds", options.rounds,
                   "rounds over all rows; each row gets its share of every limit in each round")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--cpus", options.cpus, "the client's and the server's CPU (default: the first two allowed)")
        ->delimiter(',')->expected(2);
    app.add_option("--out", options.out, "directory for milk-bench.json and the plot")->capture_default_str();
    app.add_flag("--no-plot", options.no_plot, "write the plot's data and script, but do not run gnuplot");
    app.add_option("--only", options.only,
                   "run only the rows whose name contains one of these (names: the ids in the JSON, "
                   "bytes rows as bytes:<id>, memcpy rows as memcpy)");
    CLI11_PARSE(app, argc, argv);

    std::error_code error;
    std::filesystem::create_directories(options.out, error);
    if (error) fatal("cannot create " + options.out + ": " + error.message());

    RunInfo info;
    info.cpu_model = cpu_model();
    info.kernel = kernel_release();
    info.compiler = compiler();
    info.build_type = MILK_BENCH_BUILD_TYPE;
    info.started_at = utc_now();
    info.rounds = options.rounds;
    load_average(info.load_before);

    CaseContext& context = info.context;
    context.cpus = plan_cpus(options.cpus.size() == 2 ? options.cpus[0] : -1,
                             options.cpus.size() == 2 ? options.cpus[1] : -1);
    if (!context.cpus.warning.empty()) std::fprintf(stderr, "milk-bench: WARNING: %s\n", context.cpus.warning.c_str());
    pin_current_thread(context.cpus.client_cpu);
    context.clock = TickClock::calibrate(50);
    context.latency = limits(options.iterations, options.max_seconds, 0.2);
    context.bytes = limits(options.bytes_iterations, options.bytes_max_seconds, 0.1);
    context.stream.messages = options.stream_messages;
    context.stream.warmup = options.stream_messages / 10 > 0 ? options.stream_messages / 10 : 1;
    context.stream.max_seconds = options.stream_max_seconds;

    const auto started = std::chrono::steady_clock::now();
    Results results;

    // The rows run in rounds: every round runs every row once, with its
    // share of the iterations and of the time budgets, on a fresh channel and
    // fresh threads; a row's samples and streams add up over the rounds. A
    // machine shared with other jobs drifts (and a sleeping round trip in a
    // VM depends on whether the host has the other vCPU at hand), so rows
    // measured one after the other would see different machines. Spread
    // over the whole run, every row sees the same mix, which is what makes
    // ratios like "milk blocking / eventfd <= 1.05" mean something. Each
    // round runs the rows in a different order (a fixed-seed shuffle, so
    // runs are comparable): a row's neighbours matter too. In a fixed
    // order, one row always ran right after the same neighbour, and its
    // sleeping round trips came out 10-15% slower than the same row run
    // alone on this machine.
    const CaseContext round_context = per_round(context, options.rounds);

    const std::vector<std::pair<std::string, std::function<LatencyRow()>>> latency_cases = {
        {"cas_ping_pong", [&] { return run_cas_ping_pong(round_context); }},
        {"raw_ring", [&] { return run_raw_ring(round_context); }},
        {"sequenced_raw_ring", [&] { return run_sequenced_raw_ring(round_context); }},
        {"boost_spsc_queue", [&] { return run_boost_spsc_queue(round_context); }},
        {"region_transport_spin", [&] { return run_region_transport(round_context, MilkWait::Spin); }},
        {"milk_inproc_spin", [&] { return run_milk_inproc(round_context, MilkWait::Spin); }},
        {"milk_process_spin", [&] { return run_milk_process(round_context, MilkWait::Spin); }},
        {"milk_inproc_default", [&] { return run_milk_inproc(round_context, MilkWait::Default); }},
        {"milk_process_default", [&] { return run_milk_process(round_context, MilkWait::Default); }},
        {"region_transport_blocking", [&] { return run_region_transport(round_context, MilkWait::Blocking); }},
        {"milk_inproc_blocking", [&] { return run_milk_inproc(round_context, MilkWait::Blocking); }},
        {"milk_process_blocking", [&] { return run_milk_process(round_context, MilkWait::Blocking); }},
        {"eventfd", [&] { return run_eventfd(round_context, Placement::Threads); }},
        {"eventfd_process", [&] { return run_eventfd(round_context, Placement::Processes); }},
        {"pipe", [&] { return run_pipe(round_context); }},
        {"unix_socket", [&] { return run_unix_socket(round_context); }},
    };
    using BytesCase = std::function<BytesRow(std::size_t, Touch)>;
    struct BytesTransport {
        std::string name;
        BytesCase run;
        // The largest size it runs: the copying transports stop at 16 MiB,
        // where one round trip already takes tens of milliseconds (at
        // 256 MiB half a second, which alone would make the run minutes
        // long); the memcpy rows show what copying costs above that.
        std::size_t max_size;
    };
    constexpr std::size_t every_size = ~std::size_t{0};
    const std::vector<BytesTransport> bytes_transports = {
        {"milk_inproc", [&](std::size_t s, Touch t) { return run_milk_inproc_bytes(round_context, s, t); }, every_size},
        {"milk_process", [&](std::size_t s, Touch t) { return run_milk_process_bytes(round_context, s, t); },
         every_size},
        {"pipe", [&](std::size_t s, Touch t) { return run_pipe_bytes(round_context, s, t); }, 16u << 20},
        {"unix_socket", [&](std::size_t s, Touch t) { return run_unix_socket_bytes(round_context, s, t); }, 16u << 20},
    };

    std::vector<std::function<LatencyRow()>> latency_runs;
    for (const auto& [name, run] : latency_cases)
        if (selected(options, name)) latency_runs.push_back(run);
    struct BytesRun {
        BytesCase run;
        std::size_t size;
        Touch touch;
    };
    std::vector<BytesRun> bytes_runs;
    for (Touch touch : {Touch::Stamp, Touch::Full})
        for (const BytesTransport& transport : bytes_transports)
            if (selected(options, "bytes:" + transport.name))
                for (std::size_t size : bytes_sizes)
                    if (size <= transport.max_size) bytes_runs.push_back({transport.run, size, touch});

    results.latency.resize(latency_runs.size());
    results.bytes.resize(bytes_runs.size());
    std::mt19937 shuffle_source(20240601u);
    const auto order_of = [&shuffle_source](std::size_t count) {
        std::vector<std::size_t> order(count);
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::shuffle(order.begin(), order.end(), shuffle_source);
        return order;
    };
    for (std::size_t round = 0; round < options.rounds; ++round) {
        std::fprintf(stderr, "milk-bench: round %zu of %zu\n", round + 1, options.rounds);
        for (std::size_t i : order_of(latency_runs.size())) merge_round(results.latency[i], latency_runs[i](), round);
        for (std::size_t i : order_of(bytes_runs.size()))
            merge_round(results.bytes[i], bytes_runs[i].run(bytes_runs[i].size, bytes_runs[i].touch), round);
    }
    for (LatencyRow& row : results.latency) row.latency = summarise(row.samples, context.clock);
    for (BytesRow& row : results.bytes) row.latency = summarise(row.samples, context.clock);

    if (selected(options, "memcpy")) {
        for (std::size_t size : bytes_sizes) {
            MemcpyRow row = run_memcpy(context, size);
            row.latency = summarise(row.samples, context.clock);
            results.memcpy.push_back(std::move(row));
        }
    }

    info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    load_average(info.load_after);

    const std::vector<Ratio> ratios = compute_ratios(results);
    print_report(stdout, info, results, ratios);

    bool written = write_json(options.out + "/milk-bench.json", info, results, ratios);
    written = write_plot(options.out, results, !options.no_plot) && written;
    std::printf("\nwrote %s/milk-bench.json%s\n", options.out.c_str(),
                options.no_plot ? " (and the plot's data and script)" : " and round-trip-vs-size.png");
    return written ? EXIT_SUCCESS : EXIT_FAILURE;
}
