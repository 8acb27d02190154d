// The pingpong example's client, unchanged, against the echo component
// inside milk.ko over the `kernel` transport: 10000 round trips whose
// payloads (1 to 4096 bytes) travel in the exchange heap and come back
// reversed, every byte checked, each in the very memory it left from (the
// kernel runs the example's own server code, echo_one). The client is the
// example's own pingpong_client.hpp, so this is the same client code, not a copy.
#include "pingpong.hpp"

#include <milk/kernel.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include "../../../examples/pingpong/pingpong_client.hpp"

using namespace examples::pingpong;

namespace {

bool run_over_kernel(milk::kernel::Serving serving, const char* how) {
    milk::kernel::Options options;
    options.serving = serving;
    auto end = milk::kernel::open_channel<PingPong::Contract>("echo", options);
    if (!end) {
        std::printf("open_channel failed: %s (%lld)\n", milk::describe(end.error().code),
                    static_cast<long long>(end.error().detail));
        return false;
    }
    milk::Result<ClientReport> report = run_client(PingPong::client(std::move(end).value()));
    if (!report) {
        std::printf("client failed: %s (%lld)\n", milk::describe(report.error().code),
                    static_cast<long long>(report.error().detail));
        return false;
    }
    std::printf("%s: %u round trips with the kernel, %llu payload bytes each way, %u mismatches, "
                "%u answers in the memory their ping left from\n",
                how, round_trips, static_cast<unsigned long long>(report.value().payload_bytes),
                report.value().mismatches, report.value().same_memory);
    // The kernel runs the example's own server code (echo_one), which hands
    // each Ping's buffer back reversed in place, as it does in user space.
    return report.value().mismatches == 0 && report.value().same_memory == round_trips;
}

}  // namespace

int main() {
    // The component inline in the kick, and in a kernel thread that sleeps
    // whenever its receive finds nothing (each round trip then wakes it and
    // is woken back). (A polling kernel thread serves the file-server test:
    // under TCG on a busy host, two spinning vCPUs make 10000 thread-served
    // round trips take anywhere from 1 to 50 s.)
    if (!run_over_kernel(milk::kernel::Serving::InKick, "in the kick")) return 1;
    if (!run_over_kernel(milk::kernel::Serving::Thread, "in a sleeping kernel thread")) return 1;

    // A component the module does not have, a contract or a version the
    // component does not serve, are refused before anything is mapped.
    auto missing = milk::kernel::open_channel<PingPong::Contract>("nosuch");
    if (missing || missing.error().detail != ENOENT) {
        std::printf("an unknown component was not refused with ENOENT\n");
        return 1;
    }
    // A client built from another version of the contract (another
    // identity) learns the version the component serves, to name both.
    auto other_version = milk::kernel::open_channel("echo", "examples.pingpong.PingPong", PingPong::Contract::version + 1);
    if (other_version || other_version.error().detail != PingPong::Contract::version) {
        std::printf("a wrong version was not refused with the version the component serves\n");
        return 1;
    }
    std::printf("another version refused: we speak 0x%08x, echo serves 0x%08llx (%s)\n",
                PingPong::Contract::version + 1, static_cast<unsigned long long>(other_version.error().detail),
                other_version.error().what);
    auto other_contract = milk::kernel::open_channel("echo", "examples.files.FileService", 1);
    if (other_contract || other_contract.error().detail != EPROTONOSUPPORT) {
        std::printf("a wrong contract was not refused with EPROTONOSUPPORT\n");
        return 1;
    }
    milk::kernel::Options tiny;
    tiny.pool_bytes = 64;
    if (milk::kernel::open_channel<PingPong::Contract>("echo", tiny)) {
        std::printf("a pool below the kernel's minimum was accepted\n");
        return 1;
    }
    std::printf("unknown component, wrong contract, wrong version and bad sizes refused\n");
    return 0;
}
