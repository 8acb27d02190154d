// milkc's explicit-state model checker.
//
// It builds the client and the server automaton of a contract (each side's
// view: in a `send` state the client may send and the server must receive,
// and the reverse for `recv`), composes them over two bounded FIFO queues, and
// explores every reachable configuration. It reports, as numbered diagnostics:
// a deadlock (a configuration where neither side can move and not both have
// ended) and an unspecified reception (a message at the head of a queue that
// the receiver's current state cannot take). It also reports (E0031) a state
// that a side never enters, so reachability is checked on the composed
// system and not only on the graph.
//
// It reads only names from the tree, never what the checks fill in, so it
// also runs on a tree that is merely parsed (mixed-direction states, two
// transitions on one message): that is how its tests show each property
// being caught. docs/model-checking.md has the details.
#pragma once

#include "ast.hpp"
#include "diagnostics.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace milkc {

struct ModelCheckOptions {
    // Capacity of each FIFO queue in the composed system; 0 counts as 1.
    // The Promela emitter's default MILK_QUEUE_BOUND is the same.
    std::uint32_t queue_bound = 2;
};

struct ModelCheckReport {
    std::string contract;
    std::uint32_t states = 0;          // states of the contract
    std::uint32_t transitions = 0;     // transitions of the contract
    std::uint64_t configurations = 0;  // explored configurations of the composed system
    bool ok = true;
};

// Checks one contract. Problems go to `sink`; `report.ok` is false when any
// was found.
[[nodiscard]] ModelCheckReport model_check(const ContractDecl& contract, DiagnosticSink& sink,
                                           const ModelCheckOptions& options = {});

// A state where both sides may speak (E0030) is where a protocol races. When
// that is all the checks found in `file`, model-checks each contract that has
// such a state, so that the diagnostics say what the race does: which
// messages cross, with both sides' paths to it (E0052), or nothing more when
// both sides cope. (The checker reads only names, so it runs on such a tree.)
void explain_mixed_states(const File& file, DiagnosticSink& found);

}  // namespace milkc
