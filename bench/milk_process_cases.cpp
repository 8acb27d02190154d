// milk across processes: the generated endpoints over the process transport
// (a memfd shared by two processes), the server in a child process pinned to
// the other CPU. The client and server code is the very code of the inproc
// rows (milk_endpoints.cpp); only how the channel is opened differs.
#include "milk_endpoints.hpp"

#include <milk/process.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include <sys/wait.h>
#include <unistd.h>

namespace milk::bench {
namespace {

milk::process::Options process_options(MilkWait wait, std::uint32_t heap_bytes_per_side) {
    const milk::WaitPolicy policy = wait_policy(wait);
    milk::process::Options options;
    options.wait_mode = policy.mode;
    options.spin_budget = policy.spin_budget;
    options.heap_bytes_per_side = heap_bytes_per_side;
    return options;
}

// Creates a channel, forks a server process that attaches to it and serves
// until Bye, and runs `client_body` with the client endpoint here. Returns
// once the server process has exited, and stops the run if it failed.
template <typename ClientBody>
void with_server_process(const CaseContext& context, MilkWait wait, Touch touch, std::uint32_t heap_bytes_per_side,
                         const std::string& where, ClientBody&& client_body) {
    milk::process::PendingChannel pending =
        take(milk::process::create_channel(process_options(wait, heap_bytes_per_side)), where, "create_channel");
    // Whatever stdio holds would otherwise be written twice, once per process.
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) fatal_errno("fork");
    if (child == 0) {
        // The child: this process has one thread here (every case joins its
        // threads before returning), so carrying on after fork is safe. It
        // ends with _Exit, without running the destructors of the parent's
        // objects it holds copies of (the pending channel among them).
        const std::string server_where = where + " (server process)";
        pin_current_thread(context.cpus.server_cpu);
        milk::process::AttachOptions attach;
        attach.spin_budget = wait_policy(wait).spin_budget;
        auto end = milk::process::attach_inherited(pending.fd(), parent, attach);
        if (!end.ok()) fatal_milk(server_where, "attach_inherited", end.error());
        serve_bench(Bench::server(std::move(end).value()), touch, server_where);
        std::fflush(stderr);
        std::_Exit(EXIT_SUCCESS);
    }
    milk::ChannelEnd end = take(milk::process::bind_child(std::move(pending), child), where, "bind_child");
    client_body(Bench::client(std::move(end)));
    int status = 0;
    if (::waitpid(child, &status, 0) != child) fatal_errno("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fatal(where + ": the server process failed");
}

}  // namespace

LatencyRow run_milk_process(const CaseContext& context, MilkWait wait) {
    LatencyRow row;
    row.id = std::string("milk_process_") + wait_id(wait);
    row.label = std::string("milk process, ") + wait_label(wait);
    row.measured = true;
    with_server_process(context, wait, Touch::Stamp, heap_bytes_for(0), row.id,
                        [&](ClientIdle client) { run_bench_latency(context, std::move(client), row); });
    return row;
}

BytesRow run_milk_process_bytes(const CaseContext& context, std::size_t size, Touch touch) {
    BytesRow row;
    row.id = "milk_process";
    row.label = "milk process (spin)";
    row.size = size;
    row.touch = touch;
    row.measured = true;
    with_server_process(context, MilkWait::Spin, touch, heap_bytes_for(size), row.id,
                        [&](ClientIdle client) { run_bench_bytes(context, std::move(client), row); });
    return row;
}

}  // namespace milk::bench
