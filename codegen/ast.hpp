// The abstract syntax tree of a contract file.
//
// The parser builds it; the checks resolve names in place (the `resolved_*`
// members) and number messages and states; the model checker and the emitters
// only read it. Every emitter may assume that a tree it receives passed all
// checks: names resolve, layouts fit, exactly one initial state exists.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace milkc {

// A position in a source file, 1-based as editors show it.
struct Location {
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

// The `//` comment lines that sit directly above a declaration, without the
// leading slashes. Emitters copy them into generated code.
using DocComment = std::vector<std::string>;

enum class PrimitiveKind : std::uint8_t {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    // An exchange-heap buffer handle. Only allowed directly as a message
    // field (check E0044), because it makes the record move-only.
    Bytes,
};

struct EnumDecl;
struct StructDecl;

// A type as written at a use site.
struct TypeRef {
    enum class Kind : std::uint8_t { Primitive, Named, Array };

    Kind kind = Kind::Primitive;
    PrimitiveKind primitive = PrimitiveKind::U8;  // Kind::Primitive
    std::string name;                              // Kind::Named
    std::unique_ptr<TypeRef> element;              // Kind::Array
    std::uint64_t array_size = 0;                  // Kind::Array
    Location location;

    // Filled by the checks for Kind::Named: exactly one is non-null after a
    // successful check. Non-owning: the declarations live in the File.
    const EnumDecl* resolved_enum = nullptr;
    const StructDecl* resolved_struct = nullptr;
};

struct EnumMember {
    std::string name;
    std::uint64_t value = 0;
    Location location;
    DocComment doc;
};

// A plain enum's value is one of its members; a flags enum's is any OR of
// its members (each a single bit), none included.
enum class EnumKind : std::uint8_t { Plain, Flags };

struct EnumDecl {
    std::string name;
    EnumKind kind = EnumKind::Plain;
    PrimitiveKind underlying = PrimitiveKind::U8;  // one of U8..U64
    std::vector<EnumMember> members;
    Location location;
    DocComment doc;

    [[nodiscard]] bool is_flags() const { return kind == EnumKind::Flags; }
    // The OR of every member's value: the bits a flags value may have.
    [[nodiscard]] std::uint64_t mask() const {
        std::uint64_t bits = 0;
        for (const EnumMember& member : members) bits |= member.value;
        return bits;
    }
};

struct Field {
    std::string name;
    TypeRef type;
    Location location;
    DocComment doc;
};

struct StructDecl {
    std::string name;
    std::vector<Field> fields;
    Location location;
    DocComment doc;
};

struct MessageDecl {
    std::string name;
    std::vector<Field> fields;
    Location location;
    DocComment doc;
    // Wire tag, assigned by the checks: 1-based declaration order within the
    // contract. Tag 0 is never valid on the wire, so a zeroed slot is caught.
    std::uint16_t tag = 0;
};

// `send`: the client speaks (client -> server). `recv`: the server speaks.
enum class Direction : std::uint8_t { Send, Recv };

struct StateDecl;

struct Transition {
    Direction direction = Direction::Send;
    std::string message;
    std::string target;  // a state name, or "end"
    Location location;
    Location message_location;
    Location target_location;

    // `send Login -> Auth -> Ready;`: run the contract's sub-protocol `Auth`
    // (from its first state) and, where it returns, go on in `target`. The
    // subprotocol stage replaces it by a plain transition into a copy of
    // Auth's states; empty for a plain transition.
    std::string call;
    Location call_location;

    // Filled by the checks. resolved_target is null when the target is `end`.
    const MessageDecl* resolved_message = nullptr;
    const StateDecl* resolved_target = nullptr;

    [[nodiscard]] bool ends() const { return target == "end"; }
};

// Initial: where every new channel starts (exactly one per contract).
// Entry (`entry state`): where an endpoint may also start, one handed over
// in the middle of a conversation; the generated code opens channels there
// too (client_at/server_at), and the model check explores from each.
enum class StateKind : std::uint8_t { Initial, Ordinary, Entry };

struct StateDecl {
    std::string name;
    StateKind kind = StateKind::Ordinary;
    std::vector<Transition> transitions;
    Location location;
    DocComment doc;
    // A state the contract does not declare but a sequence implies
    // (`send Open -> recv Opened -> Ready;` in `Idle` implies `Idle_Open`,
    // the state after Open): how diagnostics name it ("the state after
    // `send Open` in `Idle`"); empty for a declared state. `location` is
    // then the step's.
    std::string implied_by;
    // `close;` in the state: the side that speaks there may hang up instead
    // (close the channel without a message), and the other side takes that
    // as the protocol's end, not as an error. In a state with no transitions
    // nobody speaks: the conversation is over and either side hangs up.
    bool may_close = false;
    Location close_location;
    // 0-based declaration order, assigned by the checks. The kernel stubs use
    // it as the state number the receiver tracks.
    std::uint32_t index = 0;

    [[nodiscard]] bool is_initial() const { return kind == StateKind::Initial; }
    [[nodiscard]] bool is_entry() const { return kind == StateKind::Entry; }
    // Where a conversation may start: the initial state or an entry state.
    [[nodiscard]] bool starts_conversations() const { return is_initial() || is_entry(); }
};

// `protocol Auth { state Ask { ... } ... }` inside a contract: states that
// several places of the contract run, entered at the first and left where a
// transition targets `return` (to the state the caller names after the
// call). Its states exist only as the copies each call makes.
struct SubProtocolDecl {
    std::string name;
    std::vector<StateDecl> states;
    Location location;
    DocComment doc;
};

struct ContractDecl {
    std::string name;
    std::vector<MessageDecl> messages;
    std::vector<StateDecl> states;
    std::vector<SubProtocolDecl> protocols;
    Location location;
    DocComment doc;
    // `contract Name extends Base`: the base's name and where it is written
    // (empty: none). extend_contracts() copies the base's messages and
    // states in before the checks run.
    std::string base;
    Location base_location;

    // The initial state; non-null after a successful check.
    const StateDecl* initial = nullptr;
};

struct File {
    // The path as given on the command line; used in diagnostics and banners.
    std::string path;
    // `package demo.ping;` -> {"demo", "ping"}.
    std::vector<std::string> package;
    Location package_location;
    DocComment doc;

    std::vector<EnumDecl> enums;
    std::vector<StructDecl> structs;
    std::vector<ContractDecl> contracts;
};

}  // namespace milkc
