#include "socket_serving.hpp"

#include <milk/process.hpp>

#include <thread>
#include <utility>

namespace milk::host::detail {

void serve_over_socket(FileDescriptor socket, std::function<Result<void>(ChannelEnd&&)> serve,
                       std::chrono::milliseconds timeout) {
    // Detached: the thread owns all it uses, and a host that stops does not
    // wait for a client that keeps its channel open.
    std::thread([socket = std::move(socket), serve = std::move(serve), timeout]() mutable {
        auto pending = process::create_channel();
        if (!pending.ok()) return;
        auto end = process::send_channel(socket.get(), std::move(pending).value(), Deadline::after(timeout));
        socket.reset();
        if (!end.ok()) return;
        static_cast<void>(serve(std::move(end).value()));
    }).detach();
}

}  // namespace milk::host::detail
