// The explicit-state model checker; see model_check.hpp and
// docs/model-checking.md.
//
// The checker reads only names from the tree (message names, state names,
// transition targets, the `initial` marker), never the `resolved_*` pointers
// or the numbers the checks assign. That way it also runs on a tree that is
// parsed but failed the structural checks (a state with mixed directions, two
// transitions on one message), which is how its tests, and the broken models
// of the verify target, show that each property is really caught.
#include "model_check.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace milkc {

namespace {

enum class Side : std::uint8_t { Client = 0, Server = 1 };
enum class Action : std::uint8_t { Send, Receive };

constexpr std::array<Side, 2> both_sides = {Side::Client, Side::Server};

std::size_t side_index(Side side) { return static_cast<std::size_t>(side); }

Side other(Side side) { return side == Side::Client ? Side::Server : Side::Client; }

const char* side_name(Side side) { return side == Side::Client ? "client" : "server"; }

// The name of the hang-up in traces: not a valid message name, so it names
// no message of the contract.
constexpr const char* close_message_name = "(close)";

// Queue 0 carries client -> server, queue 1 server -> client.
std::size_t out_queue(Side side) { return side == Side::Client ? 0 : 1; }
std::size_t in_queue(Side side) { return side == Side::Client ? 1 : 0; }

// One move of one side's automaton.
struct Move {
    Action action = Action::Send;
    std::uint32_t message = 0;  // index into Model::message_names
    std::uint32_t target = 0;   // state index; Model::end_state for `end`
};

// The contract, turned into the two automata. State i of both automata is
// the contract's i-th state; state `end_state` is `end`.
struct Model {
    std::vector<std::string> message_names;
    std::vector<std::string> state_names;  // without `end`
    std::vector<Location> state_locations;
    std::uint32_t end_state = 0;
    std::uint32_t initial = 0;
    // `entry state`s: both sides may also start there (a handed-over
    // endpoint), so each is a start of its own.
    std::vector<std::uint32_t> entries;
    // moves[side][state]
    std::array<std::vector<std::vector<Move>>, 2> moves;
    // The messages each side can take in each state, sorted by index.
    std::array<std::vector<std::vector<std::uint32_t>>, 2> receivable;
    std::uint32_t transitions = 0;
};

std::uint32_t message_id(Model& model, const std::string& name) {
    for (std::size_t i = 0; i < model.message_names.size(); ++i) {
        if (model.message_names[i] == name) return static_cast<std::uint32_t>(i);
    }
    // A transition naming an undeclared message (an unchecked tree): it
    // still is a message both automata agree on, so model it as one.
    model.message_names.push_back(name);
    return static_cast<std::uint32_t>(model.message_names.size() - 1);
}

// Returns false when the contract has no initial state: there is nothing to
// explore (the checks report E0032 for that).
bool build_model(const ContractDecl& contract, Model& model) {
    for (const MessageDecl& message : contract.messages) model.message_names.push_back(message.name);
    std::map<std::string, std::uint32_t> state_by_name;
    bool have_initial = false;
    for (std::size_t i = 0; i < contract.states.size(); ++i) {
        const StateDecl& state = contract.states[i];
        model.state_names.push_back(state.name);
        model.state_locations.push_back(state.location);
        // The first declaration wins for a duplicated name (E0013 in the checks).
        state_by_name.emplace(state.name, static_cast<std::uint32_t>(i));
        // The first `initial` state; there is exactly one after the checks (E0032, E0033).
        if (state.is_initial() && !have_initial) {
            model.initial = static_cast<std::uint32_t>(i);
            have_initial = true;
        }
        if (state.is_entry()) model.entries.push_back(static_cast<std::uint32_t>(i));
    }
    model.end_state = static_cast<std::uint32_t>(contract.states.size());
    for (Side side : both_sides) {
        model.moves[side_index(side)].resize(contract.states.size() + 1);
        model.receivable[side_index(side)].resize(contract.states.size() + 1);
    }
    for (std::size_t i = 0; i < contract.states.size(); ++i) {
        for (const Transition& transition : contract.states[i].transitions) {
            ++model.transitions;
            std::uint32_t target = model.end_state;
            if (!transition.ends()) {
                auto found = state_by_name.find(transition.target);
                // A target that names no state (E0022) is a move to nowhere:
                // leave it out rather than guess.
                if (found == state_by_name.end()) continue;
                target = found->second;
            }
            std::uint32_t message = message_id(model, transition.message);
            // `send`: the client sends and the server receives; `recv` the reverse.
            Side sender = transition.direction == Direction::Send ? Side::Client : Side::Server;
            model.moves[side_index(sender)][i].push_back({Action::Send, message, target});
            model.moves[side_index(other(sender))][i].push_back({Action::Receive, message, target});
            std::vector<std::uint32_t>& takes = model.receivable[side_index(other(sender))][i];
            if (std::find(takes.begin(), takes.end(), message) == takes.end()) takes.push_back(message);
        }
    }
    // `close;`: the side that speaks in the state (the client where nobody
    // does: either may hang up, and one is enough to model) may hang up
    // instead, which the other side takes, after what was sent before it,
    // as the end. A pseudo-message that no contract can name stands for it.
    for (std::size_t i = 0; i < contract.states.size(); ++i) {
        const StateDecl& state = contract.states[i];
        if (!state.may_close) continue;
        const Side closer = !state.transitions.empty() && state.transitions.front().direction == Direction::Recv
                                ? Side::Server
                                : Side::Client;
        const std::uint32_t close = message_id(model, close_message_name);
        model.moves[side_index(closer)][i].push_back({Action::Send, close, model.end_state});
        model.moves[side_index(other(closer))][i].push_back({Action::Receive, close, model.end_state});
        model.receivable[side_index(other(closer))][i].push_back(close);
    }
    for (Side side : both_sides) {
        for (std::vector<std::uint32_t>& takes : model.receivable[side_index(side)]) {
            std::sort(takes.begin(), takes.end());
        }
    }
    return have_initial;
}

// One configuration of the composed system: both sides' states and the
// contents of both queues, head first.
struct Configuration {
    std::array<std::uint32_t, 2> state{};
    std::array<std::vector<std::uint32_t>, 2> queue;

    [[nodiscard]] std::vector<std::uint32_t> key() const {
        std::vector<std::uint32_t> key{state[0], state[1], static_cast<std::uint32_t>(queue[0].size())};
        key.insert(key.end(), queue[0].begin(), queue[0].end());
        key.insert(key.end(), queue[1].begin(), queue[1].end());
        return key;
    }
};

// How a configuration was first reached: for the traces in diagnostics.
struct Step {
    // A start (the initial configuration, or an entry state's): no parent.
    bool root = false;
    std::uint64_t parent = 0;
    Side side = Side::Client;
    Action action = Action::Send;
    std::uint32_t message = 0;
};

class Explorer {
public:
    Explorer(const ContractDecl& contract, const Model& model, DiagnosticSink& sink, std::uint32_t bound)
        : m_contract(contract), m_model(model), m_sink(sink), m_bound(bound) {
        for (Side side : both_sides) m_reached[side_index(side)].assign(model.end_state + 1, false);
    }

    // Breadth first, so that the first trace found to a problem is a
    // shortest one, and in a fixed order (client moves before server moves,
    // transitions in declaration order), so that output is deterministic.
    void run() {
        Configuration start;
        start.state = {m_model.initial, m_model.initial};
        add(std::move(start), std::nullopt);
        for (std::uint32_t entry : m_model.entries) {
            Configuration from_entry;
            from_entry.state = {entry, entry};
            add(std::move(from_entry), std::nullopt);
        }
        for (std::uint64_t current = 0; current < m_configurations.size(); ++current) explore(current);
    }

    [[nodiscard]] std::uint64_t configurations() const { return m_configurations.size(); }
    [[nodiscard]] bool reached(Side side, std::uint32_t state) const { return m_reached[side_index(side)][state]; }
    [[nodiscard]] bool found_problem() const { return m_found_problem; }

private:
    void add(Configuration configuration, std::optional<Step> step) {
        auto [it, inserted] = m_index.emplace(configuration.key(), m_configurations.size());
        if (!inserted) return;
        for (Side side : both_sides) m_reached[side_index(side)][configuration.state[side_index(side)]] = true;
        m_configurations.push_back(std::move(configuration));
        m_steps.push_back(step.value_or(Step{.root = true}));
    }

    void explore(std::uint64_t current) {
        // Copied: add() may grow m_configurations and move its elements.
        const Configuration configuration = m_configurations[current];
        bool can_move = false;
        for (Side side : both_sides) {
            std::uint32_t state = configuration.state[side_index(side)];
            for (const Move& move : m_model.moves[side_index(side)][state]) {
                Configuration next = configuration;
                if (move.action == Action::Send) {
                    std::vector<std::uint32_t>& queue = next.queue[out_queue(side)];
                    if (queue.size() >= m_bound) continue;  // full: the sender waits
                    queue.push_back(move.message);
                } else {
                    std::vector<std::uint32_t>& queue = next.queue[in_queue(side)];
                    if (queue.empty() || queue.front() != move.message) continue;
                    queue.erase(queue.begin());
                }
                next.state[side_index(side)] = move.target;
                can_move = true;
                add(std::move(next), Step{false, current, side, move.action, move.message});
            }
        }

        bool unspecified = false;
        for (Side receiver : both_sides) {
            const std::vector<std::uint32_t>& queue = configuration.queue[in_queue(receiver)];
            if (queue.empty()) continue;
            std::uint32_t state = configuration.state[side_index(receiver)];
            const std::vector<std::uint32_t>& takes = m_model.receivable[side_index(receiver)][state];
            if (std::binary_search(takes.begin(), takes.end(), queue.front())) continue;
            unspecified = true;
            report_unspecified(current, receiver, state, queue.front());
        }

        bool finished = configuration.state[0] == m_model.end_state && configuration.state[1] == m_model.end_state &&
                        configuration.queue[0].empty() && configuration.queue[1].empty();
        // A stuck configuration with a message in a queue always has an
        // unspecified reception at that queue's head (a head the receiver
        // could take would be a move), which is reported above as such.
        if (!can_move && !finished && !unspecified) report_deadlock(current);
    }

    void report_unspecified(std::uint64_t at, Side receiver, std::uint32_t state, std::uint32_t message) {
        // One report per (receiver, state, message): the same mistake reached
        // along many interleavings is still one mistake.
        std::array<std::uint32_t, 3> key{static_cast<std::uint32_t>(side_index(receiver)), state, message};
        if (!m_unspecified_seen.insert(key).second) return;
        m_found_problem = true;
        // Two messages sent from one state, crossing: a race, reported with
        // both sides' paths (once for the pair, not once per receiver).
        if (std::optional<Race> race = find_race(at, receiver)) {
            report_race(at, receiver, state, message, *race);
            return;
        }
        const std::string& name = m_model.message_names[message];
        std::string text = "contract `" + m_contract.name + "`: message `" + name + "` can arrive at the " +
                           side_name(receiver);
        std::string hint;
        Location location = m_contract.location;
        if (state == m_model.end_state) {
            text += " after it has ended";
            hint = std::string("the ") + side_name(other(receiver)) + " can still send `" + name +
                   "` when the " + side_name(receiver) + " has already gone to `end`";
        } else {
            const std::string& state_name = m_model.state_names[state];
            location = m_model.state_locations[state];
            text += " in state `" + state_name + "`, which cannot take it";
            const std::vector<std::uint32_t>& takes = m_model.receivable[side_index(receiver)][state];
            if (takes.empty()) {
                hint = std::string("in state `") + state_name + "` the " + side_name(receiver) + " only sends";
            } else {
                hint = std::string("in state `") + state_name + "` the " + side_name(receiver) + " takes only ";
                for (std::size_t i = 0; i < takes.size(); ++i) {
                    if (i > 0) hint += ", ";
                    hint += "`" + m_model.message_names[takes[i]] + "`";
                }
            }
        }
        text += "; " + trace(at);
        m_sink.error(DiagnosticCode::UnspecifiedReception, location, std::move(text), std::move(hint));
    }

    // One step of the path to a configuration, with both sides' states
    // before and after it.
    struct PathStep {
        Step step;
        std::array<std::uint32_t, 2> before{};
        std::array<std::uint32_t, 2> after{};
    };

    [[nodiscard]] std::vector<PathStep> path_to(std::uint64_t at) const {
        std::vector<PathStep> path;
        for (std::uint64_t i = at; !m_steps[i].root; i = m_steps[i].parent) {
            path.push_back({m_steps[i], m_configurations[m_steps[i].parent].state, m_configurations[i].state});
        }
        std::reverse(path.begin(), path.end());
        return path;
    }

    // A race: in `state`, the receiver sent `receiver_sent` (step
    // `receiver_step` of the path) and the other side sent `sender_sent`
    // (step `sender_step`), neither having taken the other's message.
    struct Race {
        std::uint32_t state = 0;
        std::uint32_t receiver_sent = 0;
        std::uint32_t sender_sent = 0;
        std::size_t receiver_step = 0;
        std::size_t sender_step = 0;
    };

    // Whether the message at the head of the receiver's queue in `at` was
    // sent from a state from which the receiver itself then sent, so that
    // the two crossed. (In a checked contract only one side speaks in a
    // state, so this needs a mixed-direction state.)
    [[nodiscard]] std::optional<Race> find_race(std::uint64_t at, Side receiver) const {
        const std::vector<PathStep> path = path_to(at);
        const Side sender = other(receiver);
        // FIFO: the head is the first of the sender's messages that the
        // receiver has not taken.
        std::size_t taken = 0;
        for (const PathStep& step : path) {
            if (step.step.side == receiver && step.step.action == Action::Receive) ++taken;
        }
        std::optional<std::size_t> head_send;
        for (std::size_t i = 0, sent = 0; i < path.size(); ++i) {
            if (path[i].step.side != sender || path[i].step.action != Action::Send) continue;
            if (sent++ == taken) {
                head_send = i;
                break;
            }
        }
        if (!head_send) return std::nullopt;
        const std::uint32_t from = path[*head_send].before[side_index(sender)];
        // The receiver's last send from that same state.
        for (std::size_t i = path.size(); i-- > 0;) {
            const PathStep& step = path[i];
            if (step.step.side == receiver && step.step.action == Action::Send &&
                step.before[side_index(receiver)] == from) {
                return Race{from, step.step.message, path[*head_send].step.message, i, *head_send};
            }
        }
        return std::nullopt;
    }

    void report_race(std::uint64_t at, Side receiver, std::uint32_t state, std::uint32_t message, const Race& race) {
        const std::array<std::uint32_t, 3> key{race.state, std::min(race.receiver_sent, race.sender_sent),
                                               std::max(race.receiver_sent, race.sender_sent)};
        if (!m_races_seen.insert(key).second) return;
        const Side sender = other(receiver);
        const std::vector<PathStep> path = path_to(at);
        const std::string& crossed = m_model.state_names[race.state];
        const std::string& own = m_model.message_names[race.receiver_sent];
        const std::string& theirs = m_model.message_names[race.sender_sent];
        // A state a sequence implies says where it comes from, as E0030 does.
        const std::string& implied = m_contract.states[race.state].implied_by;
        std::string text = "contract `" + m_contract.name + "`: messages `" + own + "` and `" + theirs +
                           "` can cross in flight: in state `" + crossed + "`" +
                           (implied.empty() ? "" : " (" + implied + ")") + " the " + side_name(receiver) +
                           " sends `" + own + "` while the " + side_name(sender) + " sends `" + theirs +
                           "`, and neither has taken the other's; the " + side_name(receiver) + "'s path: " +
                           side_path(path, receiver, race.receiver_step) + "; the " + side_name(sender) +
                           "'s path: " + side_path(path, sender, race.sender_step) + "; they meet when the " +
                           side_name(receiver) + ", ";
        if (state == m_model.end_state) {
            text += "after it has ended, finds `" + m_model.message_names[message] + "`";
        } else {
            text += "in state `" + m_model.state_names[state] + "`, finds `" + m_model.message_names[message] +
                    "`, which it cannot take";
        }
        std::string hint = "in each state one side speaks: decide who speaks in `" + crossed +
                           "`, or let each side take the other's message in the state the race leaves it in";
        m_sink.error(DiagnosticCode::Race, m_model.state_locations[race.state], std::move(text), std::move(hint));
    }

    // One side's own steps along `path`, up to and including step `last`:
    // "sends `Open` (Idle -> Opening), receives `Opened` (...)".
    [[nodiscard]] std::string side_path(const std::vector<PathStep>& path, Side side, std::size_t last) const {
        std::vector<std::string> steps;
        for (std::size_t i = 0; i <= last && i < path.size(); ++i) {
            const PathStep& step = path[i];
            if (step.step.side != side) continue;
            const char* verb = step.step.action == Action::Send ? "sends `" : "receives `";
            steps.push_back(verb + m_model.message_names[step.step.message] + "` (" +
                            state_word(step.before[side_index(side)]) + " -> " +
                            state_word(step.after[side_index(side)]) + ")");
        }
        return join_last(steps);
    }

    [[nodiscard]] std::string state_word(std::uint32_t state) const {
        return state == m_model.end_state ? "end" : m_model.state_names[state];
    }

    // Long lists keep their last steps, which are the ones that explain.
    [[nodiscard]] static std::string join_last(const std::vector<std::string>& steps) {
        constexpr std::size_t shown = 12;
        std::string text;
        std::size_t first = 0;
        if (steps.size() > shown) {
            first = steps.size() - shown;
            text = "(" + std::to_string(first) + " earlier steps) ";
        }
        for (std::size_t i = first; i < steps.size(); ++i) {
            if (i > first) text += ", ";
            text += steps[i];
        }
        return text;
    }

    void report_deadlock(std::uint64_t at) {
        const Configuration& configuration = m_configurations[at];
        std::uint32_t client = configuration.state[0];
        std::uint32_t server = configuration.state[1];
        if (!m_deadlock_seen.insert({client, server}).second) return;
        m_found_problem = true;
        std::string text = "contract `" + m_contract.name + "` can deadlock: " + describe(Side::Client, client) +
                           " and " + describe(Side::Server, server) + ", with no message in flight; " + trace(at);
        // Point at a state where a side is stuck: the client's unless it ended.
        std::uint32_t stuck = client != m_model.end_state ? client : server;
        std::string hint;
        if (m_contract.states[stuck].transitions.empty()) {
            hint = "state `" + m_model.state_names[stuck] +
                   "` has no transitions; every state other than `end` needs at least one";
        } else if (client == m_model.end_state || server == m_model.end_state) {
            Side ended = client == m_model.end_state ? Side::Client : Side::Server;
            hint = std::string("the ") + side_name(ended) + " went to `end` while the " + side_name(other(ended)) +
                   " still waits for a message";
        } else {
            hint = "each side waits for the other to send";
        }
        m_sink.error(DiagnosticCode::Deadlock, m_model.state_locations[stuck], std::move(text), std::move(hint));
    }

    [[nodiscard]] std::string describe(Side side, std::uint32_t state) const {
        if (state == m_model.end_state) return std::string("the ") + side_name(side) + " has ended";
        return std::string("the ") + side_name(side) + " waits in state `" + m_model.state_names[state] + "`";
    }

    // "reached after: client sends `Ping`, server receives `Ping`". Long
    // traces keep their last steps, which are the ones that explain.
    [[nodiscard]] std::string trace(std::uint64_t at) const {
        std::vector<std::string> steps;
        std::uint64_t root = at;
        for (; !m_steps[root].root; root = m_steps[root].parent) {
            const Step& step = m_steps[root];
            const char* verb = step.action == Action::Send ? " sends `" : " receives `";
            steps.push_back(std::string(side_name(step.side)) + verb + m_model.message_names[step.message] + "`");
        }
        // A problem reached from an entry state says so: its trace starts there.
        const std::uint32_t start = m_configurations[root].state[0];
        const std::string from =
            start == m_model.initial ? "" : "starting in entry state `" + m_model.state_names[start] + "`, ";
        if (steps.empty()) return start == m_model.initial ? "in the initial configuration" : from + "at once";
        std::reverse(steps.begin(), steps.end());
        constexpr std::size_t shown = 12;
        std::string text;
        std::size_t first = 0;
        if (steps.size() > shown) {
            first = steps.size() - shown;
            text = from + "reached after " + std::to_string(steps.size()) + " steps, the last " +
                   std::to_string(shown) + ": ";
        } else {
            text = from + "reached after: ";
        }
        for (std::size_t i = first; i < steps.size(); ++i) {
            if (i > first) text += ", ";
            text += steps[i];
        }
        return text;
    }

    const ContractDecl& m_contract;
    const Model& m_model;
    DiagnosticSink& m_sink;
    std::uint32_t m_bound;
    std::vector<Configuration> m_configurations;
    std::vector<Step> m_steps;
    std::map<std::vector<std::uint32_t>, std::uint64_t> m_index;
    std::array<std::vector<bool>, 2> m_reached;
    std::set<std::array<std::uint32_t, 3>> m_unspecified_seen;
    std::set<std::array<std::uint32_t, 3>> m_races_seen;
    std::set<std::pair<std::uint32_t, std::uint32_t>> m_deadlock_seen;
    bool m_found_problem = false;
};

}  // namespace

ModelCheckReport model_check(const ContractDecl& contract, DiagnosticSink& sink, const ModelCheckOptions& options) {
    ModelCheckReport report;
    report.contract = contract.name;
    report.states = static_cast<std::uint32_t>(contract.states.size());
    Model model;
    bool have_initial = build_model(contract, model);
    report.transitions = model.transitions;
    if (!have_initial) return report;  // nothing to explore; E0032 is the checks' to report

    // A queue of capacity 0 would forbid every send; 1 is the least bound
    // under which the composed system means anything.
    std::uint32_t bound = std::max<std::uint32_t>(options.queue_bound, 1);
    Explorer explorer(contract, model, sink, bound);
    explorer.run();
    report.configurations = explorer.configurations();
    bool ok = !explorer.found_problem();

    // Every state must be reached by both sides in the composed system.
    // docs/model-checking.md shows that this equals reachability in the
    // contract's graph, so after the checks (E0031) this never fires; it does
    // on unchecked trees, and it keeps the three properties in one place.
    for (std::uint32_t state = 0; state < model.end_state; ++state) {
        bool client = explorer.reached(Side::Client, state);
        bool server = explorer.reached(Side::Server, state);
        if (client && server) continue;
        ok = false;
        std::string text = "contract `" + contract.name + "`: state `" + model.state_names[state] + "` is ";
        if (!client && !server) {
            text += "reached by neither the client nor the server";
        } else {
            text += std::string("never reached by the ") + (client ? "server" : "client");
        }
        sink.error(DiagnosticCode::UnreachableState, model.state_locations[state], text + " in the composed system");
    }
    report.ok = ok;
    return report;
}

namespace {

bool has_mixed_state(const ContractDecl& contract) {
    for (const StateDecl& state : contract.states) {
        for (const Transition& transition : state.transitions) {
            if (transition.direction != state.transitions.front().direction) return true;
        }
    }
    return false;
}

}  // namespace

void explain_mixed_states(const File& file, DiagnosticSink& found) {
    if (!found.has_errors()) return;
    for (const Diagnostic& diagnostic : found.diagnostics()) {
        if (diagnostic.code != DiagnosticCode::MixedDirections) return;
    }
    for (const ContractDecl& contract : file.contracts) {
        if (has_mixed_state(contract)) static_cast<void>(model_check(contract, found));
    }
}

}  // namespace milkc
