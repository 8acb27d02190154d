// Cut points: states where the server owes nothing (cut_points.hpp).
#include "cut_points.hpp"

#include <algorithm>

namespace milkc {

bool is_cut_point(const StateDecl& state) {
    return !state.transitions.empty() &&
           std::all_of(state.transitions.begin(), state.transitions.end(),
                       [](const Transition& transition) { return transition.direction == Direction::Send; });
}

std::vector<const StateDecl*> cut_points(const ContractDecl& contract) {
    std::vector<const StateDecl*> points;
    for (const StateDecl& state : contract.states)
        if (is_cut_point(state)) points.push_back(&state);
    return points;
}

}  // namespace milkc
