// The state machines as a Graphviz graph: fs.contract -> fs.dot.
//
// One digraph per file, one cluster per contract. States are boxes, the
// initial state has a thick border and an arrow from a start point, `end` is
// a double circle. Edges are labelled with who speaks and what: `client→ Ping`
// for `send`, `server→ Pong` for `recv` (dashed, so the direction also shows
// in black and white). Render with `dot -Tsvg fs.dot -o fs.svg`.
#include "emit.hpp"
#include "emit_util.hpp"

#include <string>

namespace milkc {

namespace {

// A DOT double-quoted string. Names are identifiers, but the package and
// file name are quoted the same way for safety.
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n' || c == '\r') continue;
        out += c;
    }
    out += '"';
    return out;
}

// Node identifiers. A space cannot occur in a name, so the start point and
// `end` never collide with a state.
std::string state_node(const ContractDecl& contract, const std::string& state) {
    return quoted(contract.name + "." + state);
}
std::string end_node(const ContractDecl& contract) { return quoted(contract.name + " end"); }
std::string start_node(const ContractDecl& contract) { return quoted(contract.name + " start"); }

const StateDecl* initial_state(const ContractDecl& contract) {
    if (contract.initial != nullptr) return contract.initial;
    for (const StateDecl& state : contract.states) {
        if (state.is_initial()) return &state;
    }
    return nullptr;
}

void emit_contract(std::string& out, const ContractDecl& contract) {
    out += "\n";
    emit_util::append_doc_comment(out, "    ", contract.doc);
    out += "    subgraph " + quoted("cluster_" + contract.name) + " {\n";
    out += "        label=" + quoted("contract " + contract.name) + ";\n";
    const StateDecl* initial = initial_state(contract);
    bool has_end = false;
    for (const StateDecl& state : contract.states) {
        has_end = has_end || state.may_close;
        for (const Transition& transition : state.transitions) has_end = has_end || transition.ends();
    }

    if (initial != nullptr) out += "        " + start_node(contract) + " [shape=point, label=\"\"];\n";
    for (const StateDecl& state : contract.states) {
        out += "        " + state_node(contract, state.name) + " [label=" + quoted(state.name);
        if (&state == initial) out += ", penwidth=2";
        out += "];\n";
    }
    if (has_end) out += "        " + end_node(contract) + " [label=\"end\", shape=doublecircle];\n";

    if (initial != nullptr) {
        out += "        " + start_node(contract) + " -> " + state_node(contract, initial->name) + ";\n";
    }
    for (const StateDecl& state : contract.states) {
        for (const Transition& transition : state.transitions) {
            std::string target = transition.ends() ? end_node(contract) : state_node(contract, transition.target);
            bool client_speaks = transition.direction == Direction::Send;
            std::string label = std::string(client_speaks ? "client" : "server") + "→ " + transition.message;
            out += "        " + state_node(contract, state.name) + " -> " + target + " [label=" + quoted(label);
            if (!client_speaks) out += ", style=dashed";
            out += "];\n";
        }
        // `close;`: a hang-up, no message (dotted).
        if (state.may_close) {
            out += "        " + state_node(contract, state.name) + " -> " + end_node(contract) +
                   " [label=\"hang up\", style=dotted];\n";
        }
    }
    out += "    }\n";
}

}  // namespace

std::string emit_dot(const File& file, const EmitContext& context) {
    std::string package;
    for (const std::string& part : file.package) {
        if (!package.empty()) package += '.';
        package += part;
    }
    std::string out = "// " + emit_util::banner_text(context) + "\n";
    out += "// The state machines of package " + (package.empty() ? std::string("(none)") : package) +
           "; render with `dot -Tsvg`.\n";
    out += "// Solid edges: the client speaks (`send`). Dashed edges: the server speaks (`recv`).\n";
    out += "// Dotted edges: the side that speaks may hang up instead (`close;`).\n";
    out += "digraph " + quoted(package.empty() ? context.source_name : package) + " {\n";
    out += "    rankdir=LR;\n";
    out += "    node [shape=box, style=rounded];\n";
    for (const ContractDecl& contract : file.contracts) emit_contract(out, contract);
    out += "}\n";
    return out;
}

}  // namespace milkc
