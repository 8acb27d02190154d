#include "extend.hpp"

#include "checks.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace milkc {
namespace {

enum class Mark : std::uint8_t { Unvisited, Visiting, Done };

// A type owns its array element (a unique_ptr): copied deeply. Nothing is
// resolved yet at this stage, so there are no pointers to carry over.
TypeRef copy_of(const TypeRef& type) {
    TypeRef copy;
    copy.kind = type.kind;
    copy.primitive = type.primitive;
    copy.name = type.name;
    if (type.element) copy.element = std::make_unique<TypeRef>(copy_of(*type.element));
    copy.array_size = type.array_size;
    copy.location = type.location;
    return copy;
}

MessageDecl copy_of(const MessageDecl& message) {
    MessageDecl copy;
    copy.name = message.name;
    copy.location = message.location;
    copy.doc = message.doc;
    for (const Field& field : message.fields) copy.fields.push_back(Field{field.name, copy_of(field.type), field.location, field.doc});
    return copy;
}

class Extender {
public:
    Extender(File& file, DiagnosticSink& sink) : m_file(file), m_sink(sink) {
        for (ContractDecl& contract : file.contracts) m_by_name.emplace(contract.name, &contract);
    }

    bool run() {
        for (ContractDecl& contract : m_file.contracts) extend(contract);
        return m_ok;
    }

private:
    // Extends `contract`'s base first, then copies it in. False when the
    // contract cannot be completed (its base is unknown or on a cycle).
    bool extend(ContractDecl& contract) {
        Mark& mark = m_marks[&contract];
        if (mark == Mark::Done) return true;
        if (mark == Mark::Visiting) return false;  // the caller reports the cycle
        if (contract.base.empty()) {
            mark = Mark::Done;
            return true;
        }
        auto found = m_by_name.find(contract.base);
        if (found == m_by_name.end()) {
            std::vector<std::string_view> names;
            for (const auto& [name, other] : m_by_name) names.push_back(name);
            std::string hint = suggest_name(contract.base, names);
            error(DiagnosticCode::UnknownBase, contract.base_location,
                  "contract `" + contract.name + "` extends `" + contract.base + "`, which this file does not declare",
                  hint.empty() ? "a contract extends a contract of the same file" : std::move(hint));
            mark = Mark::Done;
            return false;
        }
        ContractDecl& base = *found->second;
        mark = Mark::Visiting;
        if (!extend(base)) {
            // Reported once, at the `extends` that closes the cycle: the
            // first contract found on it.
            if (m_marks[&base] == Mark::Visiting) {
                error(DiagnosticCode::ExtensionCycle, contract.base_location,
                      &base == &contract ? "contract `" + contract.name + "` extends itself"
                                         : "contract `" + contract.name + "` extends `" + contract.base +
                                               "`, which extends `" + contract.name +
                                               "` in turn: a contract cannot extend itself",
                      "one of the contracts on the cycle must extend nothing");
            }
            mark = Mark::Done;
            return false;
        }
        merge(contract, base);
        mark = Mark::Done;
        return true;
    }

    static void merge(ContractDecl& contract, const ContractDecl& base) {
        std::vector<MessageDecl> messages;
        for (const MessageDecl& message : base.messages) messages.push_back(copy_of(message));
        for (MessageDecl& message : contract.messages) messages.push_back(std::move(message));
        contract.messages = std::move(messages);

        // The base's sub-protocols come along (a base state may call them);
        // the subprotocol stage, after this one, expands every call.
        std::vector<SubProtocolDecl> protocols = base.protocols;
        for (SubProtocolDecl& protocol : contract.protocols) protocols.push_back(std::move(protocol));
        contract.protocols = std::move(protocols);

        std::vector<StateDecl> states = base.states;
        std::map<std::string, std::size_t> inherited;
        for (std::size_t i = 0; i < states.size(); ++i) inherited.emplace(states[i].name, i);
        for (StateDecl& state : contract.states) {
            auto same = inherited.find(state.name);
            if (same == inherited.end()) {
                states.push_back(std::move(state));
                continue;
            }
            // The base's state, with the transitions the contract adds.
            StateDecl& into = states[same->second];
            if (state.is_initial()) into.kind = StateKind::Initial;
            if (state.is_entry() && !into.is_initial()) into.kind = StateKind::Entry;
            if (into.doc.empty()) into.doc = std::move(state.doc);
            if (state.may_close && !into.may_close) {
                into.may_close = true;
                into.close_location = state.close_location;
            }
            for (Transition& transition : state.transitions) into.transitions.push_back(std::move(transition));
        }
        contract.states = std::move(states);
    }

    void error(DiagnosticCode code, Location location, std::string message, std::string hint) {
        m_ok = false;
        m_sink.error(code, location, std::move(message), std::move(hint));
    }

    File& m_file;
    DiagnosticSink& m_sink;
    std::map<std::string, ContractDecl*> m_by_name;
    std::map<const ContractDecl*, Mark> m_marks;
    bool m_ok = true;
};

}  // namespace

bool extend_contracts(File& file, DiagnosticSink& sink) { return Extender(file, sink).run(); }

}  // namespace milkc
