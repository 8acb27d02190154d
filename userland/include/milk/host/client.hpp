// Connecting to an instance that milkd runs, from another process:
//
//   auto client = milk::host::connect<PingPong::Contract>(milk::host::default_socket_path(), "echo");
//
// The endpoint is the same as Host::connect gives in the host's own process,
// so client code does not change with the placement or with the process it
// runs in.
//
// The socket protocol (SOCK_SEQPACKET, each record one packet):
//   client -> milkd  ConnectRequest: which instance, which contract and
//                    version the client speaks (or the control channel)
//   milkd -> client  ConnectReply: accepted, with the instance's placement,
//                    or refused with an ErrorCode and a ConnectRefusal
//   then, when accepted:
//     inproc, process, control: the process transport's hand-over on the
//       same socket (the server side calls send_channel; the client
//       receive_channel); for `process` the runner itself is the sender;
//     kernel: one KernelChannel record with milk.ko's channel fd
//       (SCM_RIGHTS), which the client adopts.
#pragma once

#include <milk/channel.hpp>
#include <milk/host/movable.hpp>
#include <milk/state_machine.hpp>
#include <milk/component.hpp>
#include <milk/deadline.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace milk::host {

// $XDG_RUNTIME_DIR/milk/milkd.sock, or /run/milk/milkd.sock without
// XDG_RUNTIME_DIR (as root).
[[nodiscard]] std::string default_socket_path();

// "milkconn", little-endian.
inline constexpr std::uint64_t connect_magic = 0x6e6e6f636b6c696dULL;
inline constexpr std::uint32_t connect_protocol_version = 1;

enum class ConnectKind : std::uint32_t {
    // A channel to a component instance.
    Instance = 1,
    // A channel of milk's control contract (contracts/control.contract).
    Control = 2,
};

struct ConnectRequest {
    std::uint64_t magic = connect_magic;
    std::uint32_t protocol = connect_protocol_version;
    std::uint32_t kind = static_cast<std::uint32_t>(ConnectKind::Instance);
    // NUL-terminated, as the config spells them.
    char instance[64] = {};
    char contract[64] = {};
    std::uint32_t version = 0;
    std::uint32_t reserved = 0;
};
static_assert(sizeof(ConnectRequest) == 152);

// Why milkd said no.
enum class ConnectRefusal : std::uint32_t {
    None = 0,
    NoSuchInstance,
    OtherContract,
    OtherVersion,
    InstanceDead,
    BadRequest,
    Failed,
};

struct ConnectReply {
    std::uint64_t magic = connect_magic;
    std::uint32_t refusal = 0;    // a ConnectRefusal
    std::uint32_t code = 0;       // an ErrorCode when refused
    std::uint32_t placement = 0;  // a Placement when accepted
    std::uint32_t flags = 0;      // ConnectFlags when accepted
    std::int64_t detail = 0;
};
static_assert(sizeof(ConnectReply) == 32);

// What an accepted ConnectReply says besides the placement.
enum ConnectFlags : std::uint32_t {
    // The instance may move (docs/relocation.md): keep the socket, a
    // successor channel is handed over on it when the old one closes with
    // the reason "moved".
    connect_movable = 1u << 0,
    // Its process is restarted when it dies (`restart = "on-failure"`): a
    // client whose channel dies with it waits on the socket for a
    // successor, or for the host's refusal.
    connect_restarts = 1u << 1,
};

// "milkkern", little-endian: the record that carries a kernel channel's fd.
inline constexpr std::uint64_t kernel_channel_magic = 0x6e72656b6b6c696dULL;

struct ConnectOptions {
    // How long milkd (and the instance) have to answer and hand the channel
    // over.
    std::chrono::milliseconds timeout{5000};
};

// A channel end for the client of `contract` at `version` to `instance`.
// Errors: SystemError when milkd's socket cannot be reached (detail: errno);
// InvalidArgument when milkd has no such instance or it serves another
// contract or version; PeerClosed when the instance's process is dead.
//
// `reencode` and `machine` are the contract's (milk::host::reencode and
// session::state_machine of it, which connect<Contract> passes): with them,
// a channel to an instance that moves follows it; without (null), such a
// channel ends with PeerClosed when its instance moves.
using ReencodeFunction = Result<void> (*)(const Slot& slot, ChannelEnd& from, Transport& to, Slot& out);
[[nodiscard]] Result<ChannelEnd> connect_end(const std::string& socket_path, std::string_view instance,
                                             std::string_view contract, std::uint32_t version,
                                             const ConnectOptions& options = {}, ReencodeFunction reencode = nullptr,
                                             const session::StateMachine* machine = nullptr);

template <typename Contract>
[[nodiscard]] Result<typename Contract::ClientEndpoint> connect(const std::string& socket_path,
                                                                std::string_view instance,
                                                                const ConnectOptions& options = {}) {
    static constexpr session::StateMachine machine = session::state_machine<Contract::protocol>();
    auto end = connect_end(socket_path, instance, Contract::name, Contract::version, options, &reencode<Contract>,
                           &machine);
    if (!end.ok()) return end.error();
    return Contract::client(std::move(end).value());
}

// A channel of the control contract to milkd (milkctl's way in).
[[nodiscard]] Result<ChannelEnd> connect_control_end(const std::string& socket_path,
                                                     const ConnectOptions& options = {});

}  // namespace milk::host
