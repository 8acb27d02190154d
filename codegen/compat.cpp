#include "compat.hpp"

#include "lexer.hpp"

#include <map>
#include <vector>

namespace milkc {
namespace {

// What a type is on the wire, as text: primitives, array lengths, an enum's
// underlying type and values, a struct's fields in order. No names.
std::string wire_shape(const TypeRef& type) {
    switch (type.kind) {
    case TypeRef::Kind::Primitive: return std::string(primitive_name(type.primitive));
    case TypeRef::Kind::Array: return wire_shape(*type.element) + "[" + std::to_string(type.array_size) + "]";
    case TypeRef::Kind::Named: break;
    }
    if (type.resolved_enum != nullptr) {
        const EnumDecl& decl = *type.resolved_enum;
        std::string shape = std::string(decl.is_flags() ? "flags " : "enum ") +
                            std::string(primitive_name(decl.underlying)) + " {";
        for (const EnumMember& member : decl.members) shape += " " + std::to_string(member.value);
        return shape + " }";
    }
    if (type.resolved_struct != nullptr) {
        std::string shape = "struct {";
        for (const Field& field : type.resolved_struct->fields) shape += " " + wire_shape(field.type) + ";";
        return shape + " }";
    }
    return type.name;  // unreachable on a checked tree
}

std::string message_shape(const MessageDecl& message) {
    std::string shape = "(";
    for (std::size_t i = 0; i < message.fields.size(); ++i) {
        shape += (i == 0 ? "" : ", ") + wire_shape(message.fields[i].type);
    }
    return shape + ")";
}

const char* direction_word(Direction direction) { return direction == Direction::Send ? "send" : "recv"; }

class CompatChecker {
public:
    CompatChecker(const std::string& old_path, DiagnosticSink& sink) : m_old_path(old_path), m_sink(sink) {}

    void contract(const ContractDecl& before, const ContractDecl& after) {
        const std::string& name = after.name;
        std::map<std::string, const MessageDecl*> messages;
        for (const MessageDecl& message : after.messages) messages.emplace(message.name, &message);
        for (const MessageDecl& old : before.messages) {
            auto found = messages.find(old.name);
            if (found == messages.end()) {
                m_sink.error(DiagnosticCode::CompatMessageChanged, after.location,
                             "contract `" + name + "`: message `" + old.name + "` (" + where(old.location) +
                                 ") is gone; an old peer still sends or expects it",
                             "keep every message of the old contract; add new ones after it");
                continue;
            }
            const MessageDecl& now = *found->second;
            if (now.tag != old.tag) {
                m_sink.error(DiagnosticCode::CompatMessageChanged, now.location,
                             "contract `" + name + "`: message `" + old.name + "` has tag " + std::to_string(now.tag) +
                                 ", and had tag " + std::to_string(old.tag) + " (" + where(old.location) +
                                 "); an old peer would take it for another message",
                             "a message's tag is its place among the messages: keep the old ones in their order "
                             "and add new ones after them");
            } else if (message_shape(now) != message_shape(old)) {
                m_sink.error(DiagnosticCode::CompatMessageChanged, now.location,
                             "contract `" + name + "`: message `" + old.name + "` is " + message_shape(now) +
                                 " on the wire, and was " + message_shape(old) + " (" + where(old.location) +
                                 "); an old peer would misread it",
                             "keep an old message's fields and the types they use as they were; add a new "
                             "message for the new layout");
            }
        }

        std::map<std::string, const StateDecl*> states;
        for (const StateDecl& state : after.states) states.emplace(state.name, &state);
        for (const StateDecl& old : before.states) {
            auto found = states.find(old.name);
            if (found == states.end()) {
                m_sink.error(DiagnosticCode::CompatStateChanged, after.location,
                             "contract `" + name + "`: state `" + old.name + "` (" + where(old.location) +
                                 ") is gone; an old client can still be in it",
                             "keep every state of the old contract; add new ones after them");
                continue;
            }
            const StateDecl& now = *found->second;
            if (now.index != old.index) {
                m_sink.error(DiagnosticCode::CompatStateChanged, now.location,
                             "contract `" + name + "`: state `" + old.name + "` is state number " +
                                 std::to_string(now.index) + ", and was number " + std::to_string(old.index) + " (" +
                                 where(old.location) + "); the kernel and the trace name states by number",
                             "keep the old states in their order and add new ones after them");
            }
            if (now.is_initial() != old.is_initial()) {
                m_sink.error(DiagnosticCode::CompatStateChanged, now.location,
                             "contract `" + name + "`: state `" + old.name + "` " +
                                 (old.is_initial() ? "is no longer" : "is now") + " the initial state (" +
                                 where(old.location) + "); old clients start in the old one",
                             "keep the initial state");
            }
            if (now.is_entry() != old.is_entry()) {
                m_sink.error(DiagnosticCode::CompatStateChanged, now.location,
                             "contract `" + name + "`: state `" + old.name + "` " +
                                 (old.is_entry() ? "is no longer" : "is now") + " an entry state (" +
                                 where(old.location) + "); an old peer hands over endpoints by the old ones",
                             "keep the entry states");
            }
            transitions(name, old, now);
        }
    }

    void missing_contract(const ContractDecl& old, Location at) {
        m_sink.error(DiagnosticCode::CompatMissingContract, at,
                     "contract `" + old.name + "` (" + where(old.location) + ") is not in the new file",
                     "a new version keeps every contract of the old one, under the same name");
    }

private:
    void transitions(const std::string& name, const StateDecl& old, const StateDecl& now) {
        std::map<std::string, const Transition*> by_message;
        for (const Transition& transition : now.transitions) by_message.emplace(transition.message, &transition);
        std::map<std::string, const Transition*> old_by_message;
        for (const Transition& transition : old.transitions) {
            old_by_message.emplace(transition.message, &transition);
            auto found = by_message.find(transition.message);
            const std::string step = std::string(direction_word(transition.direction)) + " " + transition.message +
                                     " -> " + transition.target;
            if (found == by_message.end()) {
                m_sink.error(DiagnosticCode::CompatTransitionChanged, now.location,
                             "contract `" + name + "`: state `" + now.name + "` no longer has `" + step + "` (" +
                                 where(transition.location) + "); an old peer may still " +
                                 (transition.direction == Direction::Send ? "send it" : "expect it"),
                             "keep every transition of an old state; add new ones beside them");
                continue;
            }
            const Transition& current = *found->second;
            if (current.direction != transition.direction || current.target != transition.target) {
                m_sink.error(DiagnosticCode::CompatTransitionChanged, current.location,
                             "contract `" + name + "`: in state `" + now.name + "`, `" +
                                 direction_word(current.direction) + " " + current.message + " -> " + current.target +
                                 "` was `" + step + "` (" + where(transition.location) +
                                 "); the two sides would disagree on the protocol state",
                             "an old transition keeps its direction and its target; give the new behaviour a new "
                             "message");
            }
        }
        // A hang-up (`close;`) is part of the protocol both ways: an old peer
        // takes one it does not expect as an error, and expects one it may
        // no longer get.
        if (old.may_close != now.may_close) {
            m_sink.error(DiagnosticCode::CompatTransitionChanged, now.location,
                         "contract `" + name + "`: state `" + now.name + "` " +
                             (old.may_close ? "no longer says" : "now says") + " `close;` (" + where(old.location) +
                             "); an old peer would take a hang-up there as an error, or wait for one",
                         "keep an old state's `close;` as it was");
        }
        // What NEW adds to an old state: the client's new messages are free
        // (an old client never sends them); the server's are not.
        for (const Transition& transition : now.transitions) {
            if (old_by_message.count(transition.message) != 0 || transition.direction != Direction::Recv) continue;
            m_sink.error(DiagnosticCode::CompatServerSendsNew, transition.location,
                         "contract `" + name + "`: the server may now send `" + transition.message + "` in state `" +
                             now.name + "`, where an old client can be (" + where(old.location) +
                             ") and cannot take it",
                         "in an old state, add only messages the client sends; let a new client ask for the new "
                         "behaviour with a new message that leads to a new state");
        }
    }

    [[nodiscard]] std::string where(Location location) const {
        return m_old_path + ":" + std::to_string(location.line);
    }

    const std::string& m_old_path;
    DiagnosticSink& m_sink;
};

}  // namespace

void check_compat(const File& old_file, const std::string& old_path, const File& new_file, DiagnosticSink& sink) {
    CompatChecker checker(old_path, sink);
    // The package is part of every contract's name.
    const bool same_package = old_file.package == new_file.package;
    for (const ContractDecl& old : old_file.contracts) {
        const ContractDecl* now = nullptr;
        for (const ContractDecl& candidate : new_file.contracts) {
            if (candidate.name == old.name) now = &candidate;
        }
        if (now == nullptr || !same_package) {
            checker.missing_contract(old, new_file.package_location);
            continue;
        }
        checker.contract(old, *now);
    }
}

}  // namespace milkc
