// The directory component inside milk.ko (its serving thread: it has no
// step), against the same administrator's session the user-space
// placements run (examples/directory/directory_client.hpp): the `Auth`
// sub-protocol twice (a refused proof, then a granted one), registrations,
// lookups with branching answers, and a hang-up (`close;`) at the end, with
// milk.ko's validator tracking every state the sub-protocol's copies add.
// Then a message the protocol does not allow is refused by the kernel.
#include "directory.hpp"
#include "directory.kstub.h"
#include "vm_check.hpp"

#include <milk/kernel.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "../../../examples/directory/directory_client.hpp"

namespace Registry = examples::directory::Registry;

int main() {
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    for (int session = 0; session < 3; ++session) {
        auto end = milk::kernel::open_channel<Registry::Contract>("directory");
        MILK_VM_CHECK(end.ok());
        // The component's default secret (components/directory).
        auto report = examples::directory::client::administer(Registry::client(std::move(end).value()), 0x5eed);
        if (!report.ok()) {
            std::printf("directory: session failed: %s (%lld)\n", report.error().what ? report.error().what : "",
                        static_cast<long long>(report.error().detail));
            return 1;
        }
        MILK_VM_CHECK(report.value().answers == examples::directory::client::session_answers);
        MILK_VM_CHECK(report.value().mismatches == 0);
    }
    std::printf("directory: 3 administrator's sessions in milk.ko, %u answers each, all as expected\n",
                examples::directory::client::session_answers);

    // A Register in Ready (before any login) is no transition of Ready: the
    // kernel's validator closes the channel and says why.
    milk::kernel::Options options;
    auto transport = milk::kernel::KernelTransport::try_open("directory", Registry::Contract::name,
                                                             Registry::Contract::version, options);
    MILK_VM_CHECK(transport.ok());
    milk::kernel::KernelTransport& channel = *transport.value();
    examples_directory_Registry forged{};
    forged.tag = examples_directory_Registry_tag_Register;
    forged.length = static_cast<milk_ku16>(examples_directory_Registry_payload_size(forged.tag));
    milk::Slot slot;
    std::memcpy(static_cast<void*>(&slot), &forged, sizeof(slot));
    MILK_VM_CHECK(channel.send(slot).ok());
    auto refused = channel.receive(milk::Deadline::after(std::chrono::seconds(5)));
    MILK_VM_CHECK(!refused.ok() && refused.error().code == milk::ErrorCode::ProtocolViolation);
    std::printf("directory: a Register before login refused: %s\n", channel.error_text().c_str());
    return 0;
}
