// How milk.ko may host the server of a contract, computed from its state
// machine (docs/kernel-stubs.md, "Hosting").
#pragma once

#include "ast.hpp"

#include <string>

namespace milkc {

enum class KernelHosting {
    // The server never speaks first and answers every client message with
    // exactly one message before the client speaks again (a client message
    // that ends the session needs no answer). Such a server can run one step
    // per client message inline in the doorbell's system call.
    PerMessage,
    // Anything else (the server speaks first, sends several messages in a
    // row, or the client sends several before an answer): the server needs a
    // thread of its own whose receive can sleep.
    Thread,
};

struct HostingVerdict {
    KernelHosting hosting = KernelHosting::Thread;
    // Why a contract is Thread-only, in words, for the generated comment
    // ("the server speaks first in Greeting"); empty for PerMessage.
    std::string reason;
};

// The hosting of a checked contract (every target resolved, one initial
// state, each state all-send or all-recv).
[[nodiscard]] HostingVerdict kernel_hosting(const ContractDecl& contract);

}  // namespace milkc
