// Cut points: the states of a contract in which the server owes nothing.
//
// A component can be moved (to another placement, live) or restarted only
// where none of its channels is in the middle of an exchange: the server has
// answered everything it must answer and waits for the client's next
// message. In milk's state model one side speaks in each state (E0030), so
// that is exactly a state whose transitions are all `send` (the client
// speaks). A state where the server speaks is never one: it owes the next
// message. The host brings a component to a cut point by letting it finish
// the message in hand and not giving it the next one (docs/components.md,
// "Cut points").
//
// milkc emits them with the protocol table (C++: Contract::protocol's
// cut_points; kernel C: <contract>_is_cut_point()), and `milkc --check`
// prints them.
#pragma once

#include "ast.hpp"

#include <vector>

namespace milkc {

// Whether `state` is a cut point: it has transitions and all of them are
// client sends.
[[nodiscard]] bool is_cut_point(const StateDecl& state);

// The contract's cut points, in declaration order.
[[nodiscard]] std::vector<const StateDecl*> cut_points(const ContractDecl& contract);

}  // namespace milkc
