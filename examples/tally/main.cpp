// examples/tally: the tally component (components/tally), a server that speaks
// first and receives many messages per answer, on a thread of this process.
// The same component runs inside milk.ko in a kernel thread of its channel
// (tests/vm/programs/kernel_tally_test.cpp runs this client against it).
#include "tally.hpp"            // generated from contracts/tally.contract
#include "tally_client.hpp"     // the client, shared with the VM test
#include "tally_component.hpp"  // the component: the same source in every placement

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

    // The settings a config's [instance.settings] table would give it.
    milk::Settings settings;
    settings.set("limit", components::tally::default_limit).value();
    auto tally = components::tally::Tally::try_create(settings);
    if (!tally) {
        std::fprintf(stderr, "tally: cannot create the component: %s\n", milk::describe(tally.error().code));
        return 1;
    }
    std::future<milk::Result<void>> served = std::async(
        std::launch::async, [&tally, server_end = std::move(server)]() mutable {
            return milk::serve_channel(tally.value(), std::move(server_end));
        });
    milk::Result<ClientReport> report = run_tally_client(std::move(client));
    milk::Result<void> server_done = served.get();

    if (!report) {
        std::fprintf(stderr, "tally: client failed: %s\n", milk::describe(report.error().code));
        return 1;
    }
    if (!server_done) {
        std::fprintf(stderr, "tally: server failed: %s\n", milk::describe(server_done.error().code));
        return 1;
    }
    const components::tally::ServerReport& server_report = tally.value().report();
    std::printf("tally: the server said Ready with a limit of %u values\n", report.value().limit);
    std::printf("tally: %u tallies of %llu values in all; the server answered %u and received %llu values\n",
                report.value().tallies, static_cast<unsigned long long>(report.value().values),
                server_report.tallies, static_cast<unsigned long long>(server_report.values));
    if (report.value().wrong != 0 || report.value().tallies != tally_rounds ||
        server_report.tallies != tally_rounds || server_report.values != report.value().values) {
        std::printf("tally: FAILED: %u sums were wrong\n", report.value().wrong);
        return 1;
    }
    std::printf("tally: every sum matched what was added\n");
    return 0;
}
