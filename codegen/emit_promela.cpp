// The Promela model for SPIN: fs.contract -> fs.pml.
//
// Per contract: two channels of capacity MILK_QUEUE_BOUND (client -> server
// and server -> client) and two processes, client_<C> and server_<C>, each
// the contract's automaton as that side sees it; the same composition as
// milkc's own checker (model_check.cpp), so that the two agree. How each
// property is encoded (docs/model-checking.md explains it in full):
//
//   deadlock             A process blocked anywhere but at its `end_closed`
//                        label is an invalid end state, which pan reports.
//   unspecified          In every state, for every message the process cannot
//   reception            take there, a poll `ch?[M]` leads to `assert(false)`;
//                        at `end`, `nempty(ch)` does. pan reports the failed
//                        assertion.
//   reachability         Every state starts with `at = N`. After a full search
//                        pan lists statements it never reached; a state is
//                        unreachable exactly when its `at = N` is listed.
#include "emit.hpp"
#include "emit_util.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace milkc {

namespace {

using emit_util::CommentStyle;

// Must equal ModelCheckOptions{}.queue_bound, so that `spin` without -D
// explores the same system as milkc.
constexpr int default_queue_bound = 2;

enum class Role : std::uint8_t { Client, Server };

struct Names {
    std::string to_server;  // channel client -> server
    std::string to_client;  // channel server -> client
};

// The hang-up's entry in message_names().
const std::string close_name = "_close";

std::string mtype_name(const ContractDecl& contract, const std::string& message) {
    return contract.name + "_" + message;
}

std::uint32_t state_index(const ContractDecl& contract, const std::string& name) {
    for (std::size_t i = 0; i < contract.states.size(); ++i) {
        if (contract.states[i].name == name) return static_cast<std::uint32_t>(i);
    }
    return static_cast<std::uint32_t>(contract.states.size());
}

const StateDecl* initial_state(const ContractDecl& contract) {
    if (contract.initial != nullptr) return contract.initial;
    for (const StateDecl& state : contract.states) {
        if (state.is_initial()) return &state;
    }
    return nullptr;
}

// Every message name a transition of the contract uses, declared ones first
// in declaration order. An unchecked tree may name undeclared messages; the
// model still has to spell them.
std::vector<std::string> message_names(const ContractDecl& contract) {
    std::vector<std::string> names;
    for (const MessageDecl& message : contract.messages) names.push_back(message.name);
    bool closes = false;
    for (const StateDecl& state : contract.states) {
        closes = closes || state.may_close;
        for (const Transition& transition : state.transitions) {
            if (std::find(names.begin(), names.end(), transition.message) == names.end()) {
                names.push_back(transition.message);
            }
        }
    }
    // `close;` is modelled as a message of its own (the hang-up), last; its
    // mtype is <Contract>__close, which no message name can produce.
    if (closes) names.push_back(close_name);
    return names;
}

// A state's `close;`: who hangs up (the side that speaks; the client where
// nobody does, as milkc's checker models it).
bool client_closes(const StateDecl& state) {
    return state.transitions.empty() || state.transitions.front().direction == Direction::Send;
}

// Set when either process found a message it cannot take: both stop.
std::string broken_flag(const ContractDecl& contract) { return "milk_broken_" + contract.name; }

void emit_process(std::string& out, const ContractDecl& contract, const Names& names, Role role) {
    const bool client = role == Role::Client;
    const std::string& in = client ? names.to_client : names.to_server;
    const std::string& own = client ? names.to_server : names.to_client;
    const std::vector<std::string> messages = message_names(contract);
    const std::uint32_t end_index = static_cast<std::uint32_t>(contract.states.size());

    out += "active proctype " + std::string(client ? "client_" : "server_") + contract.name + "()\n{\n";
    out += std::string("    ") + (end_index < 255 ? "byte" : "short") +
           " at;  /* the state this process is in: 0-based as in the kernel stubs, " +
           std::to_string(end_index) + " = end */\n";
    // The whole automaton runs until an unspecified reception breaks the
    // conversation (on either side): then both processes stop, as milkc's
    // checker stops exploring there, so that what follows from the broken
    // conversation (the other side blocked for good) is not reported as a
    // fault of its own.
    out += "    {\n";
    const StateDecl* initial = initial_state(contract);
    std::vector<const StateDecl*> starts;
    if (initial != nullptr) starts.push_back(initial);
    for (const StateDecl& state : contract.states) {
        if (state.is_entry()) starts.push_back(&state);
    }
    if (starts.size() <= 1) {
        out += "    goto " + (initial != nullptr ? "state_" + initial->name : std::string("ended")) + ";\n";
    } else {
        // Entry states: the client picks where this conversation starts,
        // and the server starts there too (a channel opened there, or an
        // endpoint handed over there).
        const std::string start = "milk_start_" + contract.name;
        if (!client) out += "    (" + start + " != 0);\n";
        out += "    if\n";
        for (std::size_t i = 0; i < starts.size(); ++i) {
            const std::string number = std::to_string(i + 1);
            out += client ? "    :: " + start + " = " + number + "; goto state_" + starts[i]->name + "\n"
                          : "    :: " + start + " == " + number + " -> goto state_" + starts[i]->name + "\n";
        }
        out += "    fi;\n";
    }

    for (const StateDecl& state : contract.states) {
        out += "state_" + state.name + ":\n";
        out += "    at = " + std::to_string(state_index(contract, state.name)) + ";\n";
        out += "    if\n";
        std::vector<std::string> takes;
        for (const Transition& transition : state.transitions) {
            std::string target = transition.ends() ? "ended" : "state_" + transition.target;
            // A target that names no state (unchecked tree): the move is left
            // out, as milkc's checker leaves it out.
            if (!transition.ends() && state_index(contract, transition.target) == end_index) continue;
            bool this_side_sends = (transition.direction == Direction::Send) == client;
            std::string message = mtype_name(contract, transition.message);
            if (this_side_sends) {
                out += "    :: " + own + "!" + message + " -> goto " + target + "\n";
            } else {
                out += "    :: " + in + "?" + message + " -> goto " + target + "\n";
                takes.push_back(transition.message);
            }
        }
        if (state.may_close) {
            const std::string close = mtype_name(contract, close_name);
            if (client_closes(state) == client) {
                out += "    :: " + own + "!" + close + " -> goto ended  /* close; */\n";
            } else {
                out += "    :: " + in + "?" + close + " -> goto ended  /* the peer hung up (close;) */\n";
                takes.push_back(close_name);
            }
        }
        // What this state cannot take, arriving at the head of the queue.
        if (takes.empty()) {
            out += "    :: nempty(" + in + ") -> goto unspecified\n";
        } else {
            for (const std::string& message : messages) {
                if (std::find(takes.begin(), takes.end(), message) != takes.end()) continue;
                out += "    :: " + in + "?[" + mtype_name(contract, message) + "] -> goto unspecified\n";
            }
        }
        out += "    fi;\n";
    }

    out += "ended:\n";
    out += "    at = " + std::to_string(end_index) + ";\n";
    out += "    /* A valid end state, unless a message still arrives. */\n";
    out += "end_closed:\n";
    out += "    if\n";
    out += "    :: nempty(" + in + ") -> goto unspecified\n";
    out += "    fi;\n";
    out += "unspecified:\n";
    out += "    /* A message at the head of the queue that this state cannot take. */\n";
    out += "    assert(false);\n";
    out += "    " + broken_flag(contract) + " = true\n";
    out += "    } unless { " + broken_flag(contract) + " }\n";
    out += "}\n";
}

void emit_contract(std::string& out, const ContractDecl& contract, const std::string& bound) {
    Names names{"to_server_" + contract.name, "to_client_" + contract.name};
    out += "\n/* ---- contract " + contract.name + " */\n";
    emit_util::append_doc_comment(out, "", contract.doc, CommentStyle::Block);
    out += "#if !defined(MILK_ONLY) || defined(MILK_ONLY_" + contract.name + ")\n";
    out += "chan " + names.to_server + " = [" + bound + "] of { mtype };\n";
    out += "chan " + names.to_client + " = [" + bound + "] of { mtype };\n";
    bool entries = false;
    for (const StateDecl& state : contract.states) entries = entries || state.is_entry();
    out += "bool " + broken_flag(contract) + " = false;  /* an unspecified reception: both processes stop */\n";
    if (entries) out += "byte milk_start_" + contract.name + " = 0;  /* where the conversation starts: 1 initial, 2.. entry states */\n";
    out += "\n";
    emit_process(out, contract, names, Role::Client);
    out += "\n";
    emit_process(out, contract, names, Role::Server);
    out += "#endif\n";
}

}  // namespace

std::string emit_promela(const File& file, const EmitContext& context) {
    std::string out = "/* " + emit_util::banner_text(context) + " */\n";
    out += "/*\n";
    out += " * Promela model of the contracts in " + emit_util::comment_safe(context.source_name, CommentStyle::Block) +
           ", for SPIN: per contract a client\n";
    out += " * and a server process over two FIFO channels of MILK_QUEUE_BOUND messages.\n";
    out += " *\n";
    out += " *   spin -a FILE.pml && cc -o pan pan.c && ./pan\n";
    out += " *\n";
    out += " * \"errors: 0\": no deadlock (invalid end state) and no unspecified reception\n";
    out += " * (assertion). Every state is reached when no \"at = N\" statement is among\n";
    out += " * pan's \"unreached in proctype\" lines. -DMILK_QUEUE_BOUND=N sets the bound;\n";
    out += " * -DMILK_ONLY -DMILK_ONLY_<Contract> checks one contract of the file alone.\n";
    out += " * See docs/model-checking.md.\n";
    out += " */\n\n";
    out += "#ifndef MILK_QUEUE_BOUND\n";
    out += "#define MILK_QUEUE_BOUND " + std::to_string(default_queue_bound) + "\n";
    out += "#endif\n\n";

    std::vector<std::string> mtypes;
    for (const ContractDecl& contract : file.contracts) {
        for (const std::string& message : message_names(contract)) mtypes.push_back(mtype_name(contract, message));
    }
    // Promela wants at least one mtype; a file without messages gets a
    // placeholder that no process uses.
    if (mtypes.empty()) mtypes.emplace_back("milk_no_message");
    out += "mtype = {\n";
    for (std::size_t i = 0; i < mtypes.size(); ++i) {
        out += "    " + mtypes[i] + (i + 1 < mtypes.size() ? ",\n" : "\n");
    }
    out += "};\n";

    for (const ContractDecl& contract : file.contracts) emit_contract(out, contract, "MILK_QUEUE_BOUND");
    return out;
}

}  // namespace milkc
