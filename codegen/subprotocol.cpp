#include "subprotocol.hpp"

#include "checks.hpp"
#include "limits.hpp"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace milkc {
namespace {

class Expander {
public:
    Expander(ContractDecl& contract, DiagnosticSink& sink) : m_contract(contract), m_sink(sink) {}

    bool run() {
        for (const SubProtocolDecl& protocol : m_contract.protocols) {
            auto [it, inserted] = m_protocols.emplace(protocol.name, &protocol);
            if (!inserted) {
                error(DiagnosticCode::DuplicateType, protocol.location,
                      "contract `" + m_contract.name + "` has two protocols named `" + protocol.name +
                          "`; the other is at line " + std::to_string(it->second->location.line),
                      "give each protocol a name of its own");
            }
            if (protocol.states.empty()) {
                error(DiagnosticCode::UnknownState, protocol.location,
                      "protocol `" + protocol.name + "` has no states", "a protocol starts in its first state");
            }
        }
        if (!m_ok) return false;
        // The protocols each state was copied from, outermost first (empty
        // for the contract's own states): a call of one of them is recursion.
        std::vector<std::vector<std::string>> chains(m_contract.states.size());
        for (std::size_t i = 0; i < m_contract.states.size(); ++i) {
            std::vector<StateDecl> copies;
            std::vector<std::vector<std::string>> copy_chains;
            for (Transition& transition : m_contract.states[i].transitions) {
                if (transition.target == "return" && chains[i].empty()) {
                    error(DiagnosticCode::UnknownState, transition.target_location,
                          "`return` in state `" + m_contract.states[i].name +
                              "`, which is no protocol's: only a protocol's states return",
                          "a transition of the contract goes to one of its states or to `end`");
                    continue;
                }
                if (transition.call.empty()) continue;
                expand_call(m_contract.states[i], chains[i], transition, copies, copy_chains);
            }
            if (!m_ok) return false;
            if (m_contract.states.size() + copies.size() > limits::max_states) {
                error(DiagnosticCode::TooMany, m_contract.states[i].location,
                      "contract `" + m_contract.name + "` has more than " + std::to_string(limits::max_states) +
                          " states once its protocols are expanded (each call copies the protocol's states)",
                      "call a large protocol from fewer places, or split the contract");
                return false;
            }
            // Right after the calling state, as a sequence's states are.
            const auto at = static_cast<std::ptrdiff_t>(i + 1);
            m_contract.states.insert(m_contract.states.begin() + at, copies.begin(), copies.end());
            chains.insert(chains.begin() + at, copy_chains.begin(), copy_chains.end());
        }
        for (const SubProtocolDecl& protocol : m_contract.protocols) {
            if (m_called.count(protocol.name) == 0 && !protocol.states.empty()) {
                error(DiagnosticCode::UnreachableState, protocol.location,
                      "protocol `" + protocol.name + "` is never called, so its states are never reached",
                      "call it (`send M -> " + protocol.name + " -> NextState;`) or remove it");
            }
        }
        return m_ok;
    }

private:
    void expand_call(const StateDecl& caller, const std::vector<std::string>& chain, Transition& call,
                     std::vector<StateDecl>& copies, std::vector<std::vector<std::string>>& copy_chains) {
        auto found = m_protocols.find(call.call);
        if (found == m_protocols.end()) {
            std::vector<std::string_view> names;
            for (const auto& [name, protocol] : m_protocols) names.push_back(name);
            std::string hint = suggest_name(call.call, names);
            error(DiagnosticCode::UnknownProtocol, call.call_location,
                  "`" + call.call + "` is no protocol of contract `" + m_contract.name + "`",
                  hint.empty() ? "a call names a protocol the contract declares: `protocol " + call.call +
                                     " { state ... }`"
                               : std::move(hint));
            return;
        }
        const SubProtocolDecl& protocol = *found->second;
        for (const std::string& outer : chain) {
            if (outer != protocol.name) continue;
            error(DiagnosticCode::ProtocolRecursion, call.call_location,
                  "protocol `" + protocol.name + "` calls itself" +
                      (chain.back() == protocol.name ? "" : ", through `" + chain.back() + "`") +
                      ": each call is a copy of its states, so that would never end",
                  "a protocol may call others, but none that leads back to itself");
            return;
        }
        m_called.insert(protocol.name);
        const std::string prefix = caller.name + "_" + call.message + "_";
        const std::string verb = call.direction == Direction::Send ? "send" : "recv";
        std::vector<std::string> inner = chain;
        inner.push_back(protocol.name);
        for (const StateDecl& state : protocol.states) {
            StateDecl copy = state;
            copy.name = prefix + state.name;
            copy.kind = StateKind::Ordinary;
            copy.implied_by = "state `" + state.name + "` of protocol `" + protocol.name + "`, as `" + verb + " " +
                              call.message + "` in `" + caller.name + "` calls it";
            for (Transition& transition : copy.transitions) {
                if (transition.target == "return") {
                    transition.target = call.target;
                } else if (transition.target != "end" && is_state_of(protocol, transition.target)) {
                    transition.target = prefix + transition.target;
                }
            }
            copies.push_back(std::move(copy));
            copy_chains.push_back(inner);
        }
        call.target = prefix + protocol.states.front().name;
        call.call.clear();
    }

    static bool is_state_of(const SubProtocolDecl& protocol, const std::string& name) {
        for (const StateDecl& state : protocol.states) {
            if (state.name == name) return true;
        }
        return false;
    }

    void error(DiagnosticCode code, Location location, std::string message, std::string hint) {
        m_ok = false;
        m_sink.error(code, location, std::move(message), std::move(hint));
    }

    ContractDecl& m_contract;
    DiagnosticSink& m_sink;
    std::map<std::string, const SubProtocolDecl*> m_protocols;
    std::set<std::string> m_called;
    bool m_ok = true;
};

}  // namespace

bool expand_subprotocols(File& file, DiagnosticSink& sink) {
    bool ok = true;
    for (ContractDecl& contract : file.contracts) ok = Expander(contract, sink).run() && ok;
    return ok;
}

}  // namespace milkc
