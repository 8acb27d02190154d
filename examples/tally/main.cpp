// examples/tally: a server that speaks first and receives many messages per
// answer, over an in-process channel. The same server runs inside milk.ko in
// a kernel thread of its channel (tests/vm/programs/kernel_tally_test.cpp
// runs this client against it).
#include "tally.hpp"          // generated from tally.contract by milk_add_contract()
#include "tally_client.hpp"   // the client, shared with the VM test
#include "tally_server.hpp"   // the server, shared with milk.ko

#include <cstdio>
#include <future>
#include <utility>

using namespace examples::tally;

int main() {
    auto channel = Tally::open_inproc();
    if (!channel) {
        std::fprintf(stderr, "tally: cannot open a channel: %s\n", milk::describe(channel.error().code));
        return 1;
    }
    auto [client, server] = std::move(channel).value();

    std::future<milk::Result<ServerReport>> served = std::async(std::launch::async, serve_tally, std::move(server));
    milk::Result<ClientReport> report = run_tally_client(std::move(client));
    milk::Result<ServerReport> server_report = served.get();

    if (!report) {
        std::fprintf(stderr, "tally: client failed: %s\n", milk::describe(report.error().code));
        return 1;
    }
    if (!server_report) {
        std::fprintf(stderr, "tally: server failed: %s\n", milk::describe(server_report.error().code));
        return 1;
    }
    std::printf("tally: the server said Ready with a limit of %u values\n", report.value().limit);
    std::printf("tally: %u tallies of %llu values in all; the server answered %u and received %llu values\n",
                report.value().tallies, static_cast<unsigned long long>(report.value().values),
                server_report.value().tallies, static_cast<unsigned long long>(server_report.value().values));
    if (report.value().wrong != 0 || report.value().tallies != tally_rounds ||
        server_report.value().tallies != tally_rounds || server_report.value().values != report.value().values) {
        std::printf("tally: FAILED: %u sums were wrong\n", report.value().wrong);
        return 1;
    }
    std::printf("tally: every sum matched what was added\n");
    return 0;
}
