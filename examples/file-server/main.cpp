// examples/file-server: a file service over a channel, in the style of
// Singularity's channel contracts. The files component (components/files)
// runs on a thread of this process and keeps an in-memory file table; the
// client runs a scripted session, prints each request with its reply, and
// checks every reply against the script.
//
// What to look at: every request has its own set of replies (files.contract),
// and each receive in file_client.hpp has one handler per reply the state
// allows. Leave one out and the program does not compile. The same client
// and component also run across processes (../file-server-process) and
// with the component inside milk.ko (tests/vm).
#include "file_client.hpp"  // the client: a scripted session, each receive handling every reply
#include "files.hpp"            // generated from contracts/files.contract
#include "files_component.hpp"  // the component: the same source in every placement

#include <cstdio>
#include <functional>
#include <future>
#include <utility>

using namespace examples::files;

int main() {
    auto channel = FileService::open_inproc();
    if (!channel) {
        std::fprintf(stderr, "file-server: cannot open a channel: %s\n", milk::describe(channel.error().code));
        return 1;
    }
    auto [client, server] = std::move(channel).value();

    // The server runs on a thread of its own; its result comes back through
    // the future. If the session stops early, `client` is dropped on the way
    // out of run_session: the server's receive then returns PeerClosed, so
    // the server never waits forever.
    auto files = components::files::Files::try_create(milk::Settings{});
    if (!files) {
        std::fprintf(stderr, "file-server: cannot create the component: %s\n", milk::describe(files.error().code));
        return 1;
    }
    std::future<milk::Result<void>> server_done = std::async(
        std::launch::async, [&files, server_end = std::move(server)]() mutable {
            return milk::serve_channel(files.value(), std::move(server_end));
        });
    bool session_ok = run_session(std::move(client));
    milk::Result<void> served = server_done.get();

    if (!session_ok) {
        std::printf("file-server: FAILED\n");
        return 1;
    }
    if (!served) {
        std::printf("file-server: server failed: %s\n", milk::describe(served.error().code));
        return 1;
    }
    std::printf("file-server: every reply as expected\n");
    return 0;
}
