// milkc's explicit-state model checker.
//
// It builds the client and the server automaton of a contract (each side's
// view: in a `send` state the client may send and the server must receive,
// and the reverse for `recv`), composes them over two bounded FIFO queues, and
// explores every reachable configuration. It reports, as numbered diagnostics:
// a deadlock (a configuration where neither side can move and not both have
// ended) and an unspecified reception (a message at the head of a queue that
// the receiver's current state cannot take). It also reports which states
// were reached, so reachability is checked on the composed system and not
// only on the graph.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace milkc {

struct ModelCheckOptions {
    // Capacity of each FIFO queue in the composed system.
    std::uint32_t queue_bound = 2;
};

struct ModelCheckReport {
    std::string contract;
    std::uint32_t states = 0;          // states of the contract
    std::uint32_t transitions = 0;     // transitions of the contract
    std::uint64_t configurations = 0;  // explored configurations of the composed system
    bool ok = true;
};

// Checks one contract that passed the checks. Problems go to `sink`.
[[nodiscard]] ModelCheckReport model_check(const ContractDecl& contract, DiagnosticSink& sink,
                                           const ModelCheckOptions& options = {});

}  // namespace milkc
