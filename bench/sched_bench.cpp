// milk-sched-bench: the scheduler under a dispersive workload, for each
// policy and each placement of the policy, against plain Linux scheduling of
// the same workload in the same run. A program, not a test.
//
// Two measurements per row:
//   decision RT   the decision round trip at low load: a request is handed
//                 to an idle worker (it waits in TaskContext::blocking on a
//                 condition variable); from the hand-over to the worker
//                 running again: the wake-up event, the batch, the policy,
//                 the run decision, the futex wake. For Linux: the
//                 condition variable's wake-up alone.
//   dispersive    open-loop arrivals (exponential gaps) of short requests
//                 (20 us of spinning) mixed with a few long ones (2 ms), the
//                 case Shinjuku and ghOSt were evaluated on, served by a pool
//                 of workers on the enclave's CPUs: p50/p99 latency of the
//                 short requests (arrival to completion), and throughput.
//
// Placements: inproc (the policy in this process), process (a forked child
// serves it over a process channel, as milk-runner would, memory locked),
// kernel (milk.ko's, when /dev/milk is there: run it in the VM, where
// `cmake --build build --target milk_vm_sched_bench` boots a static copy).
// With /dev/milk, also milk.ko's own scheduler mechanism (run_kernel_enclave):
// the policy in a process (K/proc) and called in the module (K/kernel).
// The enclave takes the last CPU; the generator runs on the first.
//
// Besides the table it writes a plot into --out (gnuplot.hpp, as milk-bench
// does): sched-bench.dat, sched-bench.gp and, by gnuplot, sched-bench.png.
#include "gnuplot.hpp"

#include <milk/host/component_type.hpp>
#include <milk/inproc.hpp>
#include <milk/kernel.hpp>
#include <milk/process.hpp>
#include <milk/sched/enclave.hpp>
#include <milk/sched/kernel_enclave.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <sched.h>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace Sched = milk::sched::Sched;

struct Request {
    Clock::time_point arrival;
    std::chrono::microseconds service{0};
    bool stop = false;
};

// The workload's queue: the generator pushes, idle workers wait.
class Queue {
public:
    void push(Request request) {
        {
            std::lock_guard lock(m_mutex);
            m_requests.push_back(request);
        }
        m_ready.notify_one();
    }
    Request pop() {
        std::unique_lock lock(m_mutex);
        m_ready.wait(lock, [&] { return !m_requests.empty(); });
        Request request = m_requests.front();
        m_requests.pop_front();
        return request;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<Request> m_requests;
};

struct Samples {
    std::mutex mutex;
    std::vector<double> wake_us;     // hand-over to running
    std::vector<double> short_us;    // arrival to completion, short requests
    std::size_t completed = 0;
};

void spin_for(std::chrono::microseconds length) {
    const auto until = Clock::now() + length;
    while (Clock::now() < until) {
    }
}

// A worker: waits for a request (as a blocked task, when `block` says how),
// runs it, records it.
void work(Queue& queue, Samples& samples, const std::function<void(const std::function<void()>&)>& block) {
    for (;;) {
        Request request;
        block([&] { request = queue.pop(); });
        const auto running = Clock::now();
        if (request.stop) return;
        spin_for(request.service);
        const auto done = Clock::now();
        std::lock_guard lock(samples.mutex);
        ++samples.completed;
        if (request.service.count() == 0) {
            samples.wake_us.push_back(std::chrono::duration<double, std::micro>(running - request.arrival).count());
        } else if (request.service < std::chrono::milliseconds(1)) {
            samples.short_us.push_back(std::chrono::duration<double, std::micro>(done - request.arrival).count());
        }
    }
}

double percentile(std::vector<double> values, double fraction) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1))];
}

struct Workload {
    int workers = 8;
    int wake_rounds = 500;
    double arrivals_per_second = 4000;
    std::chrono::milliseconds duration{1000};
    double long_fraction = 0.02;
};

// Runs both measurements with `spawn` starting the workers; `finish` waits
// for them. The generator runs on this thread.
void drive(const Workload& workload, Queue& queue, Samples& samples, const std::function<void()>& finish) {
    // Decision round trip: one request at a time, every worker idle.
    for (int round = 0; round < workload.wake_rounds; ++round) {
        const std::size_t before = samples.completed;
        queue.push({Clock::now(), std::chrono::microseconds(0)});
        for (;;) {
            {
                std::lock_guard lock(samples.mutex);
                if (samples.completed > before) break;
            }
            std::this_thread::yield();
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    // The dispersive workload, open loop.
    std::mt19937_64 random(42);
    std::exponential_distribution<double> gap(workload.arrivals_per_second);
    std::bernoulli_distribution is_long(workload.long_fraction);
    const auto end = Clock::now() + workload.duration;
    auto next = Clock::now();
    while (next < end) {
        next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(random)));
        while (Clock::now() < next) {
        }
        queue.push({next, is_long(random) ? std::chrono::microseconds(2000) : std::chrono::microseconds(20)});
    }
    for (int i = 0; i < workload.workers; ++i) queue.push({Clock::now(), {}, true});
    finish();
}

struct Row {
    std::string policy;
    std::string placement;
    double wake_p50 = 0, wake_p99 = 0, short_p50 = 0, short_p99 = 0, per_second = 0;
    std::string note;
};

Row summarize(std::string policy, std::string placement, Samples& samples, const Workload& workload) {
    Row row;
    row.policy = std::move(policy);
    row.placement = std::move(placement);
    row.wake_p50 = percentile(samples.wake_us, 0.5);
    row.wake_p99 = percentile(samples.wake_us, 0.99);
    row.short_p50 = percentile(samples.short_us, 0.5);
    row.short_p99 = percentile(samples.short_us, 0.99);
    row.per_second = static_cast<double>(samples.completed - static_cast<std::size_t>(workload.wake_rounds)) /
                     std::chrono::duration<double>(workload.duration).count();
    return row;
}

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    static_cast<void>(::sched_setaffinity(0, sizeof set, &set));
}

// The CPUs this process started with, and the generator's.
cpu_set_t all_cpus;
int generator_cpu = 0;
void unpin() { static_cast<void>(::sched_setaffinity(0, sizeof all_cpus, &all_cpus)); }

Row run_linux(const Workload& workload, int cpu) {
    Queue queue;
    Samples samples;
    std::vector<std::thread> threads;
    for (int i = 0; i < workload.workers; ++i) {
        threads.emplace_back([&, cpu] {
            pin_to(cpu);
            work(queue, samples, [](const std::function<void()>& wait) { wait(); });
        });
    }
    drive(workload, queue, samples, [&] {
        for (auto& thread : threads) thread.join();
    });
    return summarize("(Linux)", "-", samples, workload);
}

// The policy's end of a channel for `placement`, the child's pid for
// `process` (to reap), or an error line.
struct PolicyChannel {
    std::optional<Sched::Contract::ClientEndpoint> client;
    pid_t child = -1;
    std::optional<std::thread> server;
    std::string error;
};

PolicyChannel open_policy(const milk::host::ComponentType& type, const std::string& placement) {
    PolicyChannel channel;
    if (placement == "inproc") {
        auto pair = milk::inproc::open_channel();
        if (!pair.ok()) return {std::nullopt, -1, std::nullopt, "inproc::open_channel failed"};
        channel.server.emplace([&type, end = std::move(pair.value().second)]() mutable {
            static_cast<void>(type.serve(milk::Settings{}, std::move(end)));
        });
        channel.client.emplace(Sched::Contract::client(std::move(pair.value().first)));
        return channel;
    }
    if (placement == "process") {
        int sockets[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) return {std::nullopt, -1, std::nullopt, "socketpair"};
        const pid_t child = ::fork();
        if (child == 0) {
            ::close(sockets[0]);
            static_cast<void>(::mlockall(MCL_CURRENT | MCL_FUTURE));
            auto pending = milk::process::create_channel();
            if (!pending.ok()) std::_Exit(1);
            auto end = milk::process::send_channel(sockets[1], std::move(pending).value(),
                                                   milk::Deadline::after(std::chrono::seconds(10)));
            if (!end.ok()) std::_Exit(1);
            std::_Exit(type.serve(milk::Settings{}, std::move(end).value()).ok() ? 0 : 1);
        }
        ::close(sockets[1]);
        auto end = milk::process::receive_channel(sockets[0], milk::Deadline::after(std::chrono::seconds(10)));
        ::close(sockets[0]);
        if (!end.ok()) return {std::nullopt, child, std::nullopt, "receive_channel failed"};
        channel.client.emplace(Sched::Contract::client(std::move(end).value()));
        channel.child = child;
        return channel;
    }
    auto end = milk::kernel::open_channel<Sched::Contract>(type.name);
    if (!end.ok()) return {std::nullopt, -1, std::nullopt, "kernel::open_channel failed"};
    channel.client.emplace(Sched::Contract::client(std::move(end).value()));
    return channel;
}

Row run_enclave(const Workload& workload, const milk::host::ComponentType& type, const std::string& placement, int cpu) {
    // The policy's thread or process, and the enclave's agent, take this
    // thread's CPUs when they start: every CPU, not the generator's alone
    // (on which they would wait behind its spinning).
    unpin();
    PolicyChannel channel = open_policy(type, placement);
    Row row;
    row.policy = type.name;
    row.placement = placement;
    if (!channel.client) {
        row.note = channel.error;
        pin_to(generator_cpu);
        return row;
    }
    Queue queue;
    Samples samples;
    {
        auto made = milk::sched::Enclave::try_create(std::move(*channel.client), {.cpus = {cpu}, .max_tasks = 64});
        pin_to(generator_cpu);
        if (!made.ok()) {
            row.note = std::string("Enclave::try_create: ") + milk::describe(made.error().code);
            channel.client.reset();  // the policy waits for a Hello that will not come
        } else {
            auto enclave = std::move(made).value();
            for (int i = 0; i < workload.workers; ++i) {
                static_cast<void>(enclave->spawn([&](milk::sched::TaskContext& task) {
                    work(queue, samples, [&](const std::function<void()>& wait) { task.blocking(wait); });
                }));
            }
            drive(workload, queue, samples, [&] { enclave->wait_all(); });
            row = summarize(type.name, placement, samples, workload);
            const auto stats = enclave->stats();
            if (stats.fallback != milk::sched::FallbackReason::None) row.note = "fell back to FIFO";
            if (!stats.agent_realtime) row.note += row.note.empty() ? "agent not real-time" : ", agent not real-time";
        }
    }
    if (channel.server) channel.server->join();
    if (channel.child > 0) ::waitpid(channel.child, nullptr, 0);
    return row;
}

// The same workload on milk.ko's scheduler mechanism (docs/sched.md, "The
// kernel mechanism"): the workers are plain threads that join an enclave,
// and block on the queue's condition variable like Linux's do; the module
// sees their blocks and wake-ups from the scheduler's tracepoints. The
// policy is in a forked process (`K/proc`: this process's agent thread
// reaches it over a process channel) or in milk.ko (`K/kernel`: the module
// calls it directly from the enclave's kernel thread).
Row run_kernel_enclave(const Workload& workload, const milk::host::ComponentType& type, const std::string& where,
                       int cpu) {
    // The policy's process and the module's agent thread start with this
    // thread's CPUs: every CPU but the enclave's, where a placed task at
    // real-time priority would leave them nothing.
    cpu_set_t others = all_cpus;
    CPU_CLR(cpu, &others);
    static_cast<void>(::sched_setaffinity(0, sizeof others, &others));
    Row row;
    row.policy = type.name;
    row.placement = where;
    milk::sched::KernelEnclaveOptions options;
    options.cpus = {cpu};
    options.max_tasks = 64;
    options.agent_cpu = generator_cpu;
    // Deadlines for a measurement, not a watchdog's: under emulation a batch
    // now and then takes tens of milliseconds, and a fallback would leave
    // Linux's numbers in the row.
    options.policy_deadline = std::chrono::milliseconds(1000);
    options.agent_deadline = std::chrono::milliseconds(1000);
    PolicyChannel channel;
    auto made = [&]() -> milk::Result<std::unique_ptr<milk::sched::KernelEnclave>> {
        if (where == "K/kernel") return milk::sched::KernelEnclave::try_create_in_kernel(type.name, milk::Settings{}, options);
        channel = open_policy(type, "process");
        if (!channel.client) return milk::Error{milk::ErrorCode::PeerClosed, "the policy's process did not start", 0};
        return milk::sched::KernelEnclave::try_create(std::move(*channel.client), options);
    }();
    pin_to(generator_cpu);
    if (!made.ok()) {
        row.note = std::string("KernelEnclave: ") + milk::describe(made.error().code);
        channel.client.reset();
    } else {
        auto enclave = std::move(made).value();
        Queue queue;
        Samples samples;
        std::vector<std::thread> workers;
        std::atomic<int> refused{0};
        for (int i = 0; i < workload.workers; ++i) {
            workers.emplace_back([&, id = enclave->id()] {
                if (!milk::sched::KernelEnclave::join(id).ok()) refused.fetch_add(1);
                work(queue, samples, [](const std::function<void()>& wait) { wait(); });
            });
        }
        drive(workload, queue, samples, [&] {
            for (auto& worker : workers) worker.join();
        });
        row = summarize(type.name, where, samples, workload);
        const auto stats = enclave->stats();
        if (stats.fallback != milk::sched::FallbackReason::None || stats.module_fell_back) {
            static const char* const reasons[] = {"none", "policy gone", "missed deadline", "broke contract"};
            row.note = std::string("fell back to Linux (") + reasons[static_cast<int>(stats.fallback)] +
                       (stats.module_fell_back ? ", by the module, reason " + std::to_string(stats.module_reason) : "") +
                       (stats.fallback_error ? std::string(": ") + stats.fallback_error->what : std::string()) + ")";
        }
        if (refused.load() != 0) row.note += row.note.empty() ? "a join failed" : ", a join failed";
    }
    if (channel.child > 0) {
        channel.client.reset();
        ::waitpid(channel.child, nullptr, 0);
    }
    return row;
}

// The plot: for every row a group of bars (decision round trip and short
// request latency, p50 and p99), Linux's group first and its four values
// again as dashed lines across the whole plot, so that each row reads
// against the baseline of the same run. Log scale: the rows span two orders
// of magnitude (a decision p50 of tens of microseconds, a short p99 of
// milliseconds).
bool write_plot(const std::string& dir, const std::vector<Row>& rows, const Workload& workload, bool run_gnuplot) {
    struct Metric {
        const char* title;
        double Row::* value;
        const char* colour;
    };
    const Metric metrics[] = {
        {"decision RT p50", &Row::wake_p50, "#9ecae1"},
        {"decision RT p99", &Row::wake_p99, "#3182bd"},
        {"short request p50", &Row::short_p50, "#fdae6b"},
        {"short request p99", &Row::short_p99, "#e6550d"},
    };
    // A row that measured nothing (its channel did not open) has zeros,
    // which a log axis cannot show: NaN leaves its bars out.
    auto number = [](double value) { return milk::bench::gnuplot_number(value > 0 ? value : NAN); };
    const milk::bench::GnuplotFiles files{
        .program = "milk-sched-bench", .dir = dir, .stem = "sched-bench", .width = 1400};

    std::ostringstream data;
    data << "# milk-sched-bench: latency (us) and throughput by policy and placement; NaN: not measured\n"
         << "# policy\tplacement";
    for (const Metric& metric : metrics) data << "\t\"" << metric.title << "\"";
    data << "\treq/s\tnote\n";
    for (const Row& row : rows) {
        data << '"' << row.policy << "\"\t\"" << row.placement << '"';
        for (const Metric& metric : metrics) data << '\t' << number(row.*metric.value);
        data << '\t' << milk::bench::gnuplot_number(row.per_second, 0) << "\t\"" << row.note << "\"\n";
    }

    std::ostringstream script;
    char title[256];
    std::snprintf(title, sizeof title,
                  "milk-sched-bench: %.0f requests/s for %lld ms (%.0f%% of 2 ms, the rest 20 µs), "
                  "%d workers on one CPU",
                  workload.arrivals_per_second, static_cast<long long>(workload.duration.count()),
                  workload.long_fraction * 100, workload.workers);
    script << "set title \"" << title << "\\ndashed lines: Linux's values in the same run\"\n"
           << "set ylabel 'latency, log scale'\n"
           << "set logscale y\nset grid ytics mytics\nset key below horizontal\n"
           << "set ytics ('1 µs' 1, '10 µs' 10, '100 µs' 100, '1 ms' 1e3, '10 ms' 1e4, '100 ms' 1e5, '1 s' 1e6)\n"
           << "set datafile missing 'NaN'\n"
           << "set style data histograms\nset style histogram clustered gap 1\n"
           << "set style fill solid 0.9 border rgb 'gray40'\nset boxwidth 0.9\n"
           // noenhanced: the policies' names have underscores, which
           // gnuplot's enhanced text would take for subscripts.
           << "set xtics nomirror scale 0 noenhanced\nset bmargin 6\n";
    // Whole decades, so that both ends of the axis carry a label; a hair
    // wider than the decades, because gnuplot 5.4 drops a tick label that
    // falls exactly on the end of a log axis.
    double lowest = INFINITY, highest = 0;
    for (const Row& row : rows) {
        for (const Metric& metric : metrics) {
            const double value = row.*metric.value;
            if (value <= 0) continue;
            lowest = std::min(lowest, value);
            highest = std::max(highest, value);
        }
    }
    if (highest > 0)
        script << "set yrange [" << 0.999 * std::pow(10, std::floor(std::log10(lowest))) << ":"
               << 1.001 * std::pow(10, std::ceil(std::log10(highest))) << "]\n";
    if (!rows.empty() && rows.front().placement == "-") {
        for (const Metric& metric : metrics) {
            const double baseline = rows.front().*metric.value;
            if (baseline > 0)
                script << "set arrow from graph 0, first " << baseline << " to graph 1, first " << baseline
                       << " nohead back dt 2 lw 1.5 lc rgb '" << metric.colour << "'\n";
        }
    }
    // Columns 1 and 2 are the policy and the placement; the label puts the
    // placement under the policy.
    script << "label(policy, placement) = placement eq '-' ? policy : policy.\"\\n\".placement\n"
           << "plot ";
    for (std::size_t i = 0; i < std::size(metrics); ++i) {
        script << (i == 0 ? "" : ", \\\n     ") << "'" << files.data_path() << "' using " << (i + 3);
        if (i == 0) script << ":xtic(label(strcol(1), strcol(2)))";
        script << " title '" << metrics[i].title << "' lc rgb '" << metrics[i].colour << "'";
    }
    script << "\n";
    return milk::bench::write_gnuplot(files, data.str(), script.str(), run_gnuplot);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milk-sched-bench: the scheduler's policies and placements under a dispersive workload"};
    Workload workload;
    std::string only;
    int duration_ms = 1000;
    std::string out = ".";
    bool no_plot = false;
    app.add_option("--rate", workload.arrivals_per_second, "requests per second (open loop)")->capture_default_str();
    app.add_option("--duration-ms", duration_ms, "how long the dispersive workload runs")->capture_default_str();
    app.add_option("--wake-rounds", workload.wake_rounds, "decision round trips measured")->capture_default_str();
    app.add_option("--policy", only, "one component (sched_fifo, ...); default: all");
    app.add_option("--out", out, "directory for the plot (sched-bench.png) and its data and script")
        ->capture_default_str();
    app.add_flag("--no-plot", no_plot, "write the plot's data and script, but do not run gnuplot");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    }
    workload.duration = std::chrono::milliseconds(duration_ms);
    // The VM's run passes its rate this way (its programs take no arguments):
    // emulated, every batch costs far more, and 4,000 requests a second
    // would only measure an overload.
    if (const char* rate = std::getenv("MILK_SCHED_BENCH_RATE"); rate != nullptr && app.count("--rate") == 0)
        workload.arrivals_per_second = std::strtod(rate, nullptr);
    if (const char* policy = std::getenv("MILK_SCHED_BENCH_POLICY"); policy != nullptr && app.count("--policy") == 0)
        only = policy;
    // The VM has no gnuplot, and what it would plot is lost with it.
    if (const char* flag = std::getenv("MILK_SCHED_BENCH_NO_PLOT"); flag != nullptr && *flag != '\0' &&
                                                                       std::string(flag) != "0")
        no_plot = true;
    {
        std::error_code error;
        std::filesystem::create_directories(out, error);
        if (error) {
            std::fprintf(stderr, "milk-sched-bench: cannot create %s: %s\n", out.c_str(), error.message().c_str());
            return 1;
        }
    }

    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    static_cast<void>(::sched_getaffinity(0, sizeof allowed, &allowed));
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
    if (cpus.size() < 2) {
        std::fprintf(stderr, "milk-sched-bench: needs two CPUs (one for the generator, one for the enclave)\n");
        return 1;
    }
    const int enclave_cpu = cpus.back();
    all_cpus = allowed;
    generator_cpu = cpus.front();
    pin_to(generator_cpu);

    std::vector<std::string> placements{"inproc", "process"};
    if (::access("/dev/milk", R_OK | W_OK) == 0) placements.emplace_back("kernel");

    std::printf("workload: %.0f requests/s for %d ms (%.0f%% of 2 ms, the rest 20 us), %d workers on CPU %d; "
                "%d decision round trips\n",
                workload.arrivals_per_second, duration_ms, workload.long_fraction * 100, workload.workers, enclave_cpu,
                workload.wake_rounds);
    std::printf("%-12s %-8s %12s %12s %12s %12s %10s\n", "policy", "where", "decision p50", "decision p99",
                "short p50", "short p99", "req/s");
    std::vector<Row> rows;
    auto print = [&rows](const Row& row) {
        rows.push_back(row);
        std::printf("%-12s %-8s %10.1fus %10.1fus %10.1fus %10.1fus %10.0f  %s\n", row.policy.c_str(), row.placement.c_str(),
                    row.wake_p50, row.wake_p99, row.short_p50, row.short_p99, row.per_second, row.note.c_str());
        std::fflush(stdout);
    };
    print(run_linux(workload, enclave_cpu));
    std::vector<double> decision_p50(placements.size(), 0);
    for (const milk::host::ComponentType& type : milk::host::compiled_components()) {
        if (std::string(type.contract) != Sched::Contract::name) continue;
        if (!only.empty() && only != type.name) continue;
        for (std::size_t p = 0; p < placements.size(); ++p) {
            const Row row = run_enclave(workload, type, placements[p], enclave_cpu);
            print(row);
            if (std::string(type.name) == "sched_fifo") decision_p50[p] = row.wake_p50;
        }
    }
    // milk.ko's own mechanism, with the policy in a process and in the module.
    double mechanism_p50[2] = {0, 0};
    if (placements.size() == 3) {
        for (const milk::host::ComponentType& type : milk::host::compiled_components()) {
            if (std::string(type.contract) != Sched::Contract::name) continue;
            if (!only.empty() && only != type.name) continue;
            const char* wheres[2] = {"K/proc", "K/kernel"};
            for (int w = 0; w < 2; ++w) {
                const Row row = run_kernel_enclave(workload, type, wheres[w], enclave_cpu);
                print(row);
                if (std::string(type.name) == "sched_fifo") mechanism_p50[w] = row.wake_p50;
            }
        }
        std::printf("(K/...: milk.ko's scheduler mechanism; the policy in a process, or called in the module)\n");
    }
    if (placements.size() == 3 && decision_p50[2] > 0)
        std::printf("decision RT, sched_fifo: process / kernel = %.2f (target <= 1.5)\n", decision_p50[1] / decision_p50[2]);
    if (mechanism_p50[1] > 0)
        std::printf("decision RT, sched_fifo on milk.ko's mechanism: policy in a process / in the module = %.2f "
                    "(target <= 1.5)\n",
                    mechanism_p50[0] / mechanism_p50[1]);
    if (decision_p50[0] > 0)
        std::printf("decision RT, sched_fifo: process / inproc = %.2f\n", decision_p50[1] / decision_p50[0]);
    if (!write_plot(out, rows, workload, !no_plot)) return 1;
    std::printf("wrote %s/sched-bench.dat and .gp%s\n", out.c_str(), no_plot ? "" : " and sched-bench.png");
    return 0;
}
