// The file-server example's client session, unchanged, against the file
// server component inside milk.ko over the `kernel` transport: every reply
// of the script checked. The client is the example's own file_client.hpp,
// so this is the same client code, not a copy.
#include "files.hpp"

#include <milk/kernel.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../../../examples/file-server/file_client.hpp"

using namespace examples::files;

int main() {
    // Three times: each channel gets a file table of its own, so the same
    // script passes on every channel; served inline in the kick, by a
    // sleeping kernel thread, and by a polling one.
    for (milk::kernel::Serving serving :
         {milk::kernel::Serving::InKick, milk::kernel::Serving::Thread, milk::kernel::Serving::PollingThread}) {
        milk::kernel::Options options;
        options.serving = serving;
        auto end = milk::kernel::open_channel<FileService::Contract>("files", options);
        if (!end) {
            std::printf("open_channel failed: %s (%lld)\n", milk::describe(end.error().code),
                        static_cast<long long>(end.error().detail));
            return 1;
        }
        if (!run_session(FileService::client(std::move(end).value()))) return 1;
    }
    std::printf("file server in the kernel: every reply as expected, inline, from a sleeping and from a polling kernel thread\n");
    return 0;
}
