#include "hosting.hpp"

#include <set>
#include <vector>

namespace milkc {
namespace {

bool client_speaks(const StateDecl& state) {
    return !state.transitions.empty() && state.transitions.front().direction == Direction::Send;
}

// A state where nobody speaks (`close;` alone): the conversation is over,
// as at `end`; the server owes nothing there.
bool only_closes(const StateDecl& state) { return state.transitions.empty() && state.may_close; }

HostingVerdict thread_only(std::string reason) { return {KernelHosting::Thread, std::move(reason)}; }

}  // namespace

HostingVerdict kernel_hosting(const ContractDecl& contract) {
    const StateDecl* initial = contract.initial;
    if (initial == nullptr) {
        for (const StateDecl& state : contract.states)
            if (state.is_initial()) initial = &state;
    }
    if (initial == nullptr) return thread_only("the contract has no initial state");
    if (!client_speaks(*initial)) return thread_only("the server speaks first in " + initial->name);

    // Walk the client states reachable from the initial one. From each, a
    // client message leads to `end` (no answer needed) or to a server state
    // whose every message leads back to a client state or to `end`: exactly
    // one answer, then the client again.
    std::vector<const StateDecl*> pending{initial};
    std::set<const StateDecl*> seen{initial};
    while (!pending.empty()) {
        const StateDecl* state = pending.back();
        pending.pop_back();
        for (const Transition& sent : state->transitions) {
            if (sent.ends()) continue;
            const StateDecl* answer = sent.resolved_target;
            if (answer == nullptr) return thread_only("unresolved target " + sent.target);
            if (only_closes(*answer)) continue;
            if (client_speaks(*answer))
                return thread_only("the client sends " + sent.message + " in " + state->name +
                                   " and speaks again without an answer");
            for (const Transition& reply : answer->transitions) {
                if (reply.ends()) continue;
                const StateDecl* next = reply.resolved_target;
                if (next == nullptr) return thread_only("unresolved target " + reply.target);
                if (only_closes(*next)) continue;
                if (!client_speaks(*next))
                    return thread_only("the server answers " + sent.message + " with " + reply.message +
                                       " and speaks again in " + next->name);
                if (seen.insert(next).second) pending.push_back(next);
            }
        }
    }
    return {KernelHosting::PerMessage, {}};
}

}  // namespace milkc
