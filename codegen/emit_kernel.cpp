// The kernel-side C stubs: fs.contract -> fs.kstub.h.
//
// One self-contained C11 header per contract file. It must build in user
// space (tests, fuzzers, the process transport) and inside the kernel module,
// so it includes nothing: integer types come from the compiler's predefined
// __UINT32_TYPE__ & co, offsetof from __builtin_offsetof, memcpy from
// __builtin_memcpy. What the header holds and what the validator promises is
// in docs/kernel-stubs.md.
//
// Naming. Everything starts with the package prefix P ("demo_ping_"); for a
// contract C, enum E, struct T, message M, state S:
//
//   struct P T            user structs          P E_<member>     enum values
//   struct P C__M         payload of M          P E__valid       enum check
//   struct P C            a received message    P C_tag_M        tags
//   P C_state_S           states                P C_state_end    `end`
//   P C__tag_count        number of tags        P C_<verb>       functions:
//   init, on_send, validate, step, payload_size, name_of_message,
//   name_of_state, check_M.
//
// User names never contain `__` (E0060) and `end` is a keyword, so the
// families with `__` or `end` cannot meet a user-derived name; struct P C
// cannot meet struct P T because types and contracts share one namespace
// (E0010); and no family of user-derived names starts with a function's verb.
#include "cut_points.hpp"
#include "emit.hpp"
#include "emit_util.hpp"
#include "hosting.hpp"
#include "identity.hpp"
#include "layout.hpp"
#include "leaf_fields.hpp"

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

namespace milkc {

namespace {

using emit_util::append_doc_comment;

// Bumped whenever the shared definitions below change, so that two stub
// headers from different milkc versions cannot be mixed silently.
constexpr int kstub_abi = 3;

std::string primitive_c_type(PrimitiveKind kind) {
    switch (kind) {
    // bool is a byte on the wire and may hold anything there: as a C
    // _Bool, a 2 would be undefined behaviour before we could reject it.
    case PrimitiveKind::Bool:
    case PrimitiveKind::U8: return "milk_ku8";
    case PrimitiveKind::U16: return "milk_ku16";
    case PrimitiveKind::U32: return "milk_ku32";
    case PrimitiveKind::U64: return "milk_ku64";
    case PrimitiveKind::I8: return "milk_ki8";
    case PrimitiveKind::I16: return "milk_ki16";
    case PrimitiveKind::I32: return "milk_ki32";
    case PrimitiveKind::I64: return "milk_ki64";
    // Floating point is carried as its IEEE-754 bits: the kernel is built
    // without the FPU, and the validator never looks at the value.
    case PrimitiveKind::F32: return "milk_ku32";
    case PrimitiveKind::F64: return "milk_ku64";
    case PrimitiveKind::Bytes: return "struct milk_kbytes";
    }
    std::abort();  // Our bug: a PrimitiveKind this switch does not know.
}

// The C literal suffix for a constant of an enum's underlying type.
const char* literal_suffix(PrimitiveKind underlying) { return underlying == PrimitiveKind::U64 ? "ull" : "u"; }

class KernelEmitter {
public:
    KernelEmitter(const File& file, const EmitContext& context)
        : m_file(file), m_context(context), m_prefix(emit_util::c_prefix(file)) {}

    std::string run() {
        line("// " + emit_util::banner_text(m_context));
        line("//");
        line("// Kernel-side C stubs of package " + dotted_package() + ": the wire layout of every");
        line("// message, tags and protocol states, and per contract a validator that checks a");
        line("// received slot against the protocol state the receiver tracks itself. Plain C11");
        line("// that includes nothing, for the kernel module and for user space alike; see");
        line("// docs/kernel-stubs.md.");
        std::string guard = "MILK_KSTUB_" + identifier_safe(m_prefix + stem(m_context.source_name)) + "_H";
        line("#ifndef " + guard);
        line("#define " + guard);
        blank();
        emit_common();
        for (const EnumDecl& decl : m_file.enums) emit_enum(decl);
        for (const StructDecl& decl : m_file.structs) emit_struct(decl);
        for (const ContractDecl& decl : m_file.contracts) emit_contract(decl);
        line("#endif  // " + guard);
        return std::move(m_out);
    }

    // The shared definitions alone (milk_kstub_common.h), for code that
    // hosts contracts without naming one: milk.ko's core.
    std::string run_common() {
        line("// " + emit_util::banner_text(m_context));
        line("//");
        line("// The definitions every kernel stub header shares (the validators' types and");
        line("// the contract descriptor), without any contract: milk.ko's core includes this.");
        line("#ifndef MILK_KSTUB_COMMON_H");
        line("#define MILK_KSTUB_COMMON_H");
        blank();
        emit_common();
        line("#endif  // MILK_KSTUB_COMMON_H");
        return std::move(m_out);
    }

private:
    // ---- output helpers ------------------------------------------------------

    void line(const std::string& text) {
        m_out += text;
        m_out += '\n';
    }
    void blank() { m_out += '\n'; }

    std::string dotted_package() const {
        std::string dotted;
        for (const std::string& part : m_file.package) {
            if (!dotted.empty()) dotted += '.';
            dotted += part;
        }
        return dotted.empty() ? "(none)" : dotted;
    }

    static std::string stem(const std::string& name) {
        std::size_t dot = name.find('.');
        return dot == std::string::npos ? name : name.substr(0, dot);
    }

    static std::string identifier_safe(const std::string& text) {
        std::string out;
        for (char c : text) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
            out += ok ? c : '_';
        }
        return out;
    }

    // ---- types ---------------------------------------------------------------

    // The C type of `type` without array dimensions, e.g. "struct demo_ping_Point".
    std::string base_c_type(const TypeRef& type) const {
        switch (type.kind) {
        case TypeRef::Kind::Primitive: return primitive_c_type(type.primitive);
        case TypeRef::Kind::Named:
            if (const EnumDecl* decl = find_enum(type.name)) return primitive_c_type(decl->underlying);
            return "struct " + m_prefix + type.name;
        case TypeRef::Kind::Array: return base_c_type(*type.element);
        }
        std::abort();  // Our bug: a TypeRef kind this switch does not know.
    }

    // "[4][3]" for u8[4][3]: outermost dimension first, as C writes it.
    static std::string array_suffix(const TypeRef& type) {
        std::string suffix;
        for (const TypeRef* t = &type; t->kind == TypeRef::Kind::Array; t = t->element.get()) {
            suffix += "[" + std::to_string(t->array_size) + "u]";
        }
        return suffix;
    }

    const EnumDecl* find_enum(const std::string& name) const {
        for (const EnumDecl& decl : m_file.enums) {
            if (decl.name == name) return &decl;
        }
        return nullptr;
    }
    const StructDecl* find_struct(const std::string& name) const {
        for (const StructDecl& decl : m_file.structs) {
            if (decl.name == name) return &decl;
        }
        return nullptr;
    }

    // Whether a value of `type` can be ill-formed on the wire: a bool, an
    // enum or a buffer handle somewhere inside.
    bool needs_check(const TypeRef& type) const {
        switch (type.kind) {
        case TypeRef::Kind::Primitive:
            return type.primitive == PrimitiveKind::Bool || type.primitive == PrimitiveKind::Bytes;
        case TypeRef::Kind::Named:
            if (find_enum(type.name) != nullptr) return true;
            if (const StructDecl* decl = find_struct(type.name)) return fields_need_check(decl->fields);
            return false;
        case TypeRef::Kind::Array: return needs_check(*type.element);
        }
        return false;
    }
    bool fields_need_check(const std::vector<Field>& fields) const {
        for (const Field& field : fields) {
            if (needs_check(field.type)) return true;
        }
        return false;
    }
    bool fields_have_bytes(const std::vector<Field>& fields) const {
        for (const Field& field : fields) {
            if (field.type.kind == TypeRef::Kind::Primitive && field.type.primitive == PrimitiveKind::Bytes) {
                return true;
            }
        }
        return false;
    }

    // A struct definition with the field layout asserted against layout.hpp,
    // so that a C compiler with another idea of alignment fails loudly
    // instead of reading the wrong bytes.
    void emit_record(const std::string& tag, const std::vector<Field>& fields) {
        line("struct " + tag + " {");
        for (const Field& field : fields) {
            append_doc_comment(m_out, "    ", field.doc);
            line("    " + base_c_type(field.type) + " " + field.name + array_suffix(field.type) + ";");
        }
        line("};");
        RecordLayout layout = layout_of_fields(fields);
        for (const FieldLayout& field : layout.fields) {
            line("MILK_KSTATIC_ASSERT(__builtin_offsetof(struct " + tag + ", " + field.field->name +
                 ") == " + std::to_string(field.offset) + "u, \"" + tag + "." + field.field->name +
                 ": offset differs from the wire layout\");");
        }
        line("MILK_KSTATIC_ASSERT(sizeof(struct " + tag + ") == " + std::to_string(layout.size) + "u, \"" + tag +
             ": size differs from the wire layout\");");
        line("MILK_KSTATIC_ASSERT(MILK_KALIGNOF(struct " + tag + ") == " + std::to_string(layout.align) + "u, \"" +
             tag + ": alignment differs from the wire layout\");");
    }

    void emit_enum(const EnumDecl& decl) {
        std::string name = m_prefix + decl.name;
        append_doc_comment(m_out, "", decl.doc);
        line(std::string(decl.is_flags() ? "// flags enum " : "// enum ") + decl.name + " : " +
             primitive_c_type(decl.underlying) + " on the wire.");
        // C enumeration constants must fit an int; larger values of u32 and
        // u64 enums become macros instead.
        bool fits_int = true;
        for (const EnumMember& member : decl.members) {
            if (member.value > 0x7fffffffu) fits_int = false;
        }
        if (fits_int) {
            line("enum {");
            for (const EnumMember& member : decl.members) {
                append_doc_comment(m_out, "    ", member.doc);
                line("    " + name + "_" + member.name + " = " + std::to_string(member.value) + ",");
            }
            line("};");
        } else {
            for (const EnumMember& member : decl.members) {
                append_doc_comment(m_out, "", member.doc);
                line("#define " + name + "_" + member.name + " " + std::to_string(member.value) +
                     literal_suffix(decl.underlying));
            }
        }
        line("// Every declared value of " + decl.name + ", in declaration order (the field tables");
        line("// of the contracts point here).");
        std::string values;
        for (const EnumMember& member : decl.members)
            values += (values.empty() ? "" : ", ") + std::to_string(member.value) + "ull";
        line("MILK_KDESCRIPTOR milk_ku64 " + name + "__values[] = {" + values + "};");
        if (decl.is_flags()) {
            line("// 1 when `value` has no bit but " + decl.name + "'s flags (a set of flags, OR-ed;");
            line("// none is valid), else 0.");
            line("static inline int " + name + "__valid(milk_ku64 value)");
            line("{");
            line("    return (value & ~" + std::to_string(decl.mask()) + "ull) == 0;");
            line("}");
            blank();
            return;
        }
        line("// 1 when `value` is a declared " + decl.name + ", else 0.");
        line("static inline int " + name + "__valid(milk_ku64 value)");
        line("{");
        std::vector<std::string> labels;
        for (const EnumMember& member : decl.members) labels.push_back(name + "_" + member.name);
        emit_is_one_of("value", labels);
        line("}");
        blank();
    }

    // The body of a membership test: 1 when `argument` is one of `labels`,
    // else 0 (a switch; no labels, always 0).
    void emit_is_one_of(const std::string& argument, const std::vector<std::string>& labels) {
        if (labels.empty()) {
            line("    (void)" + argument + ";");
            line("    return 0;");
            return;
        }
        line("    switch (" + argument + ") {");
        for (const std::string& label : labels) line("    case " + label + ":");
        line("        return 1;");
        line("    default:");
        line("        return 0;");
        line("    }");
    }

    void emit_struct(const StructDecl& decl) {
        append_doc_comment(m_out, "", decl.doc);
        emit_record(m_prefix + decl.name, decl.fields);
        blank();
    }

    // ---- checks of one value -------------------------------------------------

    // Emits the statements that reject an ill-formed `expr` of type `type`.
    // `path` names the value for the violation record; array elements show
    // as `[]` (the value field of the record has the offending value).
    void emit_value_check(const TypeRef& type, const std::string& expr, const std::string& path, int depth) {
        if (!needs_check(type)) return;
        std::string indent(static_cast<std::size_t>(4 * (depth + 1)), ' ');
        switch (type.kind) {
        case TypeRef::Kind::Primitive:
            if (type.primitive == PrimitiveKind::Bool) {
                line(indent + "if (" + expr + " > 1u)");
                line(indent + "    return milk_kviolate(out, MILK_KV_BAD_BOOL, \"" + path + "\", " + expr + ");");
            } else {
                line(indent + "if (!milk_kbytes_ok(&" + expr + ", pool))");
                line(indent + "    return milk_kviolate(out, MILK_KV_BAD_HANDLE, \"" + path + "\",");
                line(indent + "                         ((milk_ku64)" + expr + ".offset << 32) | " + expr +
                     ".length);");
            }
            return;
        case TypeRef::Kind::Named:
            if (const EnumDecl* enum_decl = find_enum(type.name)) {
                line(indent + "if (!" + m_prefix + enum_decl->name + "__valid(" + expr + "))");
                line(indent + "    return milk_kviolate(out, MILK_KV_BAD_ENUM, \"" + path + "\", " + expr + ");");
            } else if (const StructDecl* struct_decl = find_struct(type.name)) {
                for (const Field& field : struct_decl->fields) {
                    emit_value_check(field.type, expr + "." + field.name, path + "." + field.name, depth);
                }
            }
            return;
        case TypeRef::Kind::Array: {
            std::string index = "i" + std::to_string(depth);
            line(indent + "for (milk_ku32 " + index + " = 0; " + index + " < " + std::to_string(type.array_size) +
                 "u; ++" + index + ") {");
            emit_value_check(*type.element, expr + "[" + index + "]", path + "[]", depth + 1);
            line(indent + "}");
            return;
        }
        }
    }

    // ---- contracts -----------------------------------------------------------

    static std::uint32_t state_index(const ContractDecl& contract, const std::string& name) {
        for (std::size_t i = 0; i < contract.states.size(); ++i) {
            if (contract.states[i].name == name) return static_cast<std::uint32_t>(i);
        }
        return static_cast<std::uint32_t>(contract.states.size());
    }

    void emit_contract(const ContractDecl& contract) {
        const std::string c = m_prefix + contract.name;
        const std::string qualified = (m_file.package.empty() ? "" : dotted_package() + ".") + contract.name;
        const std::string end = c + "_state_end";
        std::size_t rule = contract.name.size() < 60 ? 60 - contract.name.size() : 3;
        line("// ---- contract " + contract.name + " " + std::string(rule, '-'));
        append_doc_comment(m_out, "", contract.doc);
        blank();

        // Tags.
        line("// Message tags: 1-based declaration order; 0 is never a message.");
        line("enum {");
        for (std::size_t i = 0; i < contract.messages.size(); ++i) {
            line("    " + c + "_tag_" + contract.messages[i].name + " = " + std::to_string(i + 1) + ",");
        }
        line("    " + c + "__tag_count = " + std::to_string(contract.messages.size()));
        line("};");
        blank();

        // States.
        line("// Protocol states: 0-based declaration order; `end` after the last.");
        line("enum {");
        for (std::size_t i = 0; i < contract.states.size(); ++i) {
            line("    " + c + "_state_" + contract.states[i].name + " = " + std::to_string(i) + ",");
        }
        line("    " + end + " = " + std::to_string(contract.states.size()));
        line("};");
        blank();

        // Payload structs.
        for (const MessageDecl& message : contract.messages) {
            append_doc_comment(m_out, "", message.doc);
            if (message.fields.empty()) {
                line("// " + message.name + " has no payload.");
                blank();
                continue;
            }
            emit_record(c + "__" + message.name, message.fields);
            blank();
        }

        // The decoded message.
        line("// A received message as the validator hands it out: the receiver's private");
        line("// copy of the slot, laid out as the slot is. `body` is the member named by `tag`.");
        line("struct " + c + " {");
        line("    milk_ku16 tag;");
        line("    milk_ku16 length;");
        line("    milk_ku32 flags;");
        line("    union {");
        for (const MessageDecl& message : contract.messages) {
            if (!message.fields.empty()) line("        struct " + c + "__" + message.name + " " + message.name + ";");
        }
        // `raw__`: a message may be called `raw`, but no user name has `__` (E0060).
        line("        milk_ku8 raw__[MILK_KSLOT_PAYLOAD_SIZE];");
        line("    } body;");
        line("};");
        line("MILK_KSTATIC_ASSERT(__builtin_offsetof(struct " + c + ", body) == MILK_KSLOT_HEADER_SIZE, \"" + c +
             ": payload must follow the 8-byte header\");");
        line("MILK_KSTATIC_ASSERT(sizeof(struct " + c + ") == MILK_KSLOT_SIZE, \"" + c +
             ": a decoded message is exactly one slot\");");
        blank();

        // Names, for violation records and logs.
        line("static inline const char *" + c + "_name_of_message(milk_ku32 tag)");
        line("{");
        line("    switch (tag) {");
        for (const MessageDecl& message : contract.messages) {
            line("    case " + c + "_tag_" + message.name + ":");
            line("        return \"" + message.name + "\";");
        }
        line("    default:");
        line("        return 0;");
        line("    }");
        line("}");
        blank();
        line("static inline const char *" + c + "_name_of_state(milk_ku32 state)");
        line("{");
        line("    switch (state) {");
        for (const StateDecl& state : contract.states) {
            line("    case " + c + "_state_" + state.name + ":");
            line("        return \"" + state.name + "\";");
        }
        line("    case " + end + ":");
        line("        return \"end\";");
        line("    default:");
        line("        return 0;");
        line("    }");
        line("}");
        blank();

        // Cut points (cut_points.hpp).
        line("// 1 when `state` is a cut point: the server owes nothing there (it waits for");
        line("// the client), so a component may be moved or restarted; 0 otherwise.");
        line("static inline int " + c + "_is_cut_point(milk_ku32 state)");
        line("{");
        std::vector<std::string> points;
        for (const StateDecl* point : cut_points(contract)) points.push_back(c + "_state_" + point->name);
        emit_is_one_of("state", points);
        line("}");
        blank();

        // Payload sizes.
        line("// The payload length a message with `tag` must announce in its header.");
        line("static inline milk_ku32 " + c + "_payload_size(milk_ku32 tag)");
        line("{");
        line("    switch (tag) {");
        for (const MessageDecl& message : contract.messages) {
            line("    case " + c + "_tag_" + message.name + ":");
            line("        return " + std::to_string(layout_of(message).size) + "u;");
        }
        line("    default:");
        line("        return 0;");
        line("    }");
        line("}");
        blank();

        // The transition function.
        line("// The protocol: 1 and the next state in *next when `sender` may send the");
        line("// message `tag` in `state`; 0 when it may not.");
        line("static inline int " + c + "_step(milk_ku32 state, milk_ku32 sender, milk_ku32 tag, milk_ku32 *next)");
        line("{");
        line("    switch (state) {");
        for (const StateDecl& state : contract.states) {
            line("    case " + c + "_state_" + state.name + ":");
            for (const Transition& transition : state.transitions) {
                std::string sender =
                    transition.direction == Direction::Send ? "MILK_KSIDE_CLIENT" : "MILK_KSIDE_SERVER";
                std::string target = transition.ends() ? end : c + "_state_" + transition.target;
                if (!transition.ends() && state_index(contract, transition.target) == contract.states.size()) {
                    continue;  // an unresolved target; the checks rejected the contract
                }
                line("        if (sender == " + sender + " && tag == " + c + "_tag_" + transition.message + ") {");
                line("            *next = " + target + ";");
                line("            return 1;");
                line("        }");
            }
            line("        return 0;");
        }
        line("    default:");
        line("        return 0;");
        line("    }");
        line("}");
        blank();

        // Init and on_send.
        const StateDecl* initial = contract.initial;
        if (initial == nullptr) {
            for (const StateDecl& state : contract.states) {
                if (state.is_initial()) {
                    initial = &state;
                    break;
                }
            }
        }
        line("// Starts tracking a channel of " + contract.name + " at its initial state, for the");
        line("// endpoint of `side` (the side whose received messages will be validated).");
        line("static inline void " + c + "_init(struct milk_kstate *st, enum milk_kside side)");
        line("{");
        line("    st->state = " + (initial != nullptr ? c + "_state_" + initial->name : end) + ";");
        line("    st->side = (milk_ku32)side;");
        line("}");
        blank();
        line("// Records that the tracked side itself sent `tag`, so that the tracked state");
        line("// follows both directions. Returns MILK_KV_TAG_NOT_ALLOWED, and keeps the state,");
        line("// when the tracked side may not send `tag` now: a bug on the local side.");
        line("static inline int " + c + "_on_send(struct milk_kstate *st, milk_ku32 tag)");
        line("{");
        line("    milk_ku32 next = 0;");
        line("    if (st->side > MILK_KSIDE_SERVER || st->state > " + end + ")");
        line("        return MILK_KV_BAD_STATE;");
        line("    if (!" + c + "_step(st->state, st->side, tag, &next))");
        line("        return MILK_KV_TAG_NOT_ALLOWED;");
        line("    st->state = next;");
        line("    return 0;");
        line("}");
        blank();

        // Per-message payload checks.
        std::vector<const MessageDecl*> checked;
        for (const MessageDecl& message : contract.messages) {
            if (!fields_need_check(message.fields)) continue;
            checked.push_back(&message);
            bool uses_pool = fields_have_bytes(message.fields);
            line("static inline int " + c + "_check_" + message.name + "(const struct " + c + "__" + message.name +
                 " *m, const struct milk_kpool *pool, struct milk_kviolation *out)");
            line("{");
            if (!uses_pool) line("    (void)pool;");
            for (const Field& field : message.fields) emit_value_check(field.type, "m->" + field.name, field.name, 0);
            line("    return 0;");
            line("}");
            blank();
        }

        // The validator.
        line("// Validates the slot the peer published at `slot` (8-byte aligned; shared memory");
        line("// the peer may be rewriting right now). Reads it exactly once into *msg, then");
        line("// checks only that copy: the tracked state is not `end`, the tag is a message of");
        line("// " + contract.name + " the peer may send in the tracked state, the length is that");
        line("// message's payload size, the flags are zero, every bool is 0 or 1, every enum a");
        line("// declared value, every buffer handle inside `pool` (the sender's pool; may be");
        line("// 0 when the contract has no `bytes`). On success advances the tracked state and");
        line("// returns 0: *msg is the message to use. On failure returns a negative MILK_KV_*");
        line("// code, fills *out (if not 0) and leaves the state; the channel must be closed.");
        line("static inline int " + c + "_validate(struct milk_kstate *st, const void *slot,");
        line("        const struct milk_kpool *pool, struct " + c + " *msg, struct milk_kviolation *out)");
        line("{");
        line("    milk_ku32 next = 0;");
        if (checked.empty()) {
            line("    (void)pool;");
        } else {
            line("    int rc = 0;");
        }
        line("    milk_kread_slot(msg, slot);");
        line("    if (out != 0) {");
        line("        out->code = 0;");
        line("        out->state = st->state;");
        line("        out->tag = msg->tag;");
        line("        out->contract = \"" + qualified + "\";");
        line("        out->state_name = " + c + "_name_of_state(st->state);");
        line("        out->message = " + c + "_name_of_message(msg->tag);");
        line("        out->field = 0;");
        line("        out->value = 0;");
        line("    }");
        line("    if (st->side > MILK_KSIDE_SERVER || st->state > " + end + ")");
        line("        return milk_kviolate(out, MILK_KV_BAD_STATE, 0, st->state);");
        line("    if (st->state == " + end + ")");
        line("        return milk_kviolate(out, MILK_KV_ENDED, 0, msg->tag);");
        line("    if (msg->tag == 0 || msg->tag > " + c + "__tag_count)");
        line("        return milk_kviolate(out, MILK_KV_BAD_TAG, 0, msg->tag);");
        line("    if (!" + c + "_step(st->state, MILK_KSIDE_SERVER - st->side, msg->tag, &next))");
        line("        return milk_kviolate(out, MILK_KV_TAG_NOT_ALLOWED, 0, msg->tag);");
        line("    if (msg->length != " + c + "_payload_size(msg->tag))");
        line("        return milk_kviolate(out, MILK_KV_BAD_LENGTH, 0, msg->length);");
        line("    if (msg->flags != 0)");
        line("        return milk_kviolate(out, MILK_KV_BAD_FLAGS, 0, msg->flags);");
        if (!checked.empty()) {
            line("    switch (msg->tag) {");
            for (const MessageDecl* message : checked) {
                line("    case " + c + "_tag_" + message->name + ":");
                line("        rc = " + c + "_check_" + message->name + "(&msg->body." + message->name +
                     ", pool, out);");
                line("        break;");
            }
            line("    default:");
            line("        break;");
            line("    }");
            line("    if (rc != 0)");
            line("        return rc;");
        }
        line("    st->state = next;");
        line("    return 0;");
        line("}");
        blank();
        emit_descriptor(contract, qualified);
    }

    // The contract's kernel descriptor: everything milk.ko needs to host its
    // server, so that a component names only its C++ type (docs/kernel-stubs.md).
    void emit_descriptor(const ContractDecl& contract, const std::string& qualified) {
        const std::string c = m_prefix + contract.name;
        // Only what the client sends: the kernel looks at the handles of the
        // messages it receives as the server.
        std::set<std::string> client_sends;
        for (const StateDecl& state : contract.states) {
            for (const Transition& transition : state.transitions) {
                if (transition.direction == Direction::Send) client_sends.insert(transition.message);
            }
        }
        std::size_t max_handles = 0;
        std::vector<const MessageDecl*> with_bytes;
        for (const MessageDecl& message : contract.messages) {
            if (client_sends.count(message.name) == 0) continue;
            std::size_t count = 0;
            for (const Field& field : message.fields) {
                if (field.type.kind == TypeRef::Kind::Primitive && field.type.primitive == PrimitiveKind::Bytes) ++count;
            }
            if (count == 0) continue;
            with_bytes.push_back(&message);
            if (count > max_handles) max_handles = count;
        }
        line("// The validator over an untyped message buffer (the descriptor's signature).");
        line("static inline int " + c + "__validate_any(struct milk_kstate *st, const void *slot,");
        line("        const struct milk_kpool *pool, void *msg, struct milk_kviolation *out)");
        line("{");
        line("    return " + c + "_validate(st, slot, pool, (struct " + c + " *)msg, out);");
        line("}");
        blank();
        line("// The buffer handles (`bytes` fields) of a validated message from the client,");
        line("// in declaration order, written to out[0..max_handles); returns how many.");
        line("static inline milk_ku32 " + c + "__handles(const void *message, struct milk_kbytes *out)");
        line("{");
        if (with_bytes.empty()) {
            line("    (void)message;");
            line("    (void)out;");
            line("    return 0;");
        } else {
            line("    const struct " + c + " *m = (const struct " + c + " *)message;");
            line("    switch (m->tag) {");
            for (const MessageDecl* message : with_bytes) {
                line("    case " + c + "_tag_" + message->name + ":");
                std::size_t index = 0;
                for (const Field& field : message->fields) {
                    if (field.type.kind != TypeRef::Kind::Primitive || field.type.primitive != PrimitiveKind::Bytes)
                        continue;
                    line("        out[" + std::to_string(index++) + "] = m->body." + message->name + "." + field.name + ";");
                }
                line("        return " + std::to_string(index) + "u;");
            }
            line("    default:");
            line("        return 0;");
            line("    }");
        }
        line("}");
        blank();
        emit_field_tables(contract);
        const HostingVerdict verdict = kernel_hosting(contract);
        line("// How milk.ko may host " + contract.name + "'s server: " +
             (verdict.hosting == KernelHosting::PerMessage
                  ? std::string("per message (the client always speaks first and")
                  : "only in a thread (" + emit_util::comment_safe(verdict.reason, emit_util::CommentStyle::Line) +
                        ")."));
        if (verdict.hosting == KernelHosting::PerMessage) line("// gets exactly one answer before it speaks again).");
        line("MILK_KDESCRIPTOR struct milk_kcontract " + c + "__kcontract = {");
        line("    \"" + qualified + "\",");
        line("    " + identity_string(contract_identity(m_file, contract)) + "u,  // its identity (Contract::version)");
        line("    " + c + "__tag_count,");
        line("    " + c + "_state_end,");
        line(std::string("    ") +
             (verdict.hosting == KernelHosting::PerMessage ? "MILK_KHOSTING_PER_MESSAGE" : "MILK_KHOSTING_THREAD") + ",");
        line("    " + std::to_string(max_handles) + "u,");
        line("    " + c + "_init,");
        line("    " + c + "__validate_any,");
        line("    " + c + "_on_send,");
        line("    " + c + "_payload_size,");
        line("    " + c + "__handles,");
        line("    " + c + "_step,");
        line("    " + c + "__messages,");
        line("};");
        blank();
    }

    // Every message's leaf fields (leaf_fields.hpp), so that a tool can build
    // and mutate the contract's messages from its descriptor alone.
    void emit_field_tables(const ContractDecl& contract) {
        const std::string c = m_prefix + contract.name;
        line("// The leaf fields of each message (nested structs and arrays unrolled), for");
        line("// tools that build or mutate messages knowing only the descriptor.");
        for (const MessageDecl& message : contract.messages) {
            const std::vector<LeafField> leaves = leaf_fields(message);
            if (leaves.empty()) continue;
            line("MILK_KDESCRIPTOR struct milk_kfield " + c + "__fields_" + message.name + "[] = {");
            for (const LeafField& leaf : leaves) {
                std::string values = "0, 0u";
                if (leaf.enum_decl != nullptr) {
                    values = m_prefix + leaf.enum_decl->name + "__values, " +
                             std::to_string(leaf.enum_decl->members.size()) + "u";
                }
                line("    {\"" + leaf.path + "\", " + std::to_string(leaf.offset) + "u, " + std::to_string(leaf.size) +
                     "u, " + leaf_kind_name(leaf.kind) + ", " + values + "},");
            }
            line("};");
        }
        line("// Indexed by tag - 1.");
        line("MILK_KDESCRIPTOR struct milk_kmessage " + c + "__messages[] = {");
        for (const MessageDecl& message : contract.messages) {
            const std::size_t count = leaf_fields(message).size();
            line("    {\"" + message.name + "\", " + std::to_string(layout_of(message).size) + "u, " +
                 std::to_string(count) + "u, " + (count == 0 ? std::string("0") : c + "__fields_" + message.name) +
                 "},");
        }
        line("};");
        blank();
    }

    static const char* leaf_kind_name(LeafKind kind) {
        switch (kind) {
        case LeafKind::Unsigned: return "MILK_KFIELD_UNSIGNED";
        case LeafKind::Signed: return "MILK_KFIELD_SIGNED";
        case LeafKind::Bool: return "MILK_KFIELD_BOOL";
        case LeafKind::Enum: return "MILK_KFIELD_ENUM";
        case LeafKind::Bytes: return "MILK_KFIELD_BYTES";
        case LeafKind::Float: return "MILK_KFIELD_FLOAT";
        }
        std::abort();  // Our bug: a LeafKind this switch does not know.
    }

    // ---- definitions shared by all stub headers ------------------------------

    void emit_common() {
        std::string abi = std::to_string(kstub_abi);
        line("// ---- definitions shared by every milk stub header --------------------------");
        line("// Guarded on their own, so that the stubs of several contract files can be");
        line("// included into one translation unit.");
        line("#ifndef MILK_KSTUB_COMMON_ABI");
        line("#define MILK_KSTUB_COMMON_ABI " + abi);
        blank();
        line("typedef __UINT8_TYPE__ milk_ku8;");
        line("typedef __UINT16_TYPE__ milk_ku16;");
        line("typedef __UINT32_TYPE__ milk_ku32;");
        line("typedef __UINT64_TYPE__ milk_ku64;");
        line("typedef __INT8_TYPE__ milk_ki8;");
        line("typedef __INT16_TYPE__ milk_ki16;");
        line("typedef __INT32_TYPE__ milk_ki32;");
        line("typedef __INT64_TYPE__ milk_ki64;");
        blank();
        line("// C11 for the kernel; C++ spells these differently (the header also serves");
        line("// C++ code such as user-space fuzzers of the validators).");
        line("#ifdef __cplusplus");
        line("#define MILK_KSTATIC_ASSERT(condition, text) static_assert(condition, text)");
        line("#define MILK_KALIGNOF(type) alignof(type)");
        line("#else");
        line("#define MILK_KSTATIC_ASSERT(condition, text) _Static_assert(condition, text)");
        line("#define MILK_KALIGNOF(type) _Alignof(type)");
        line("#endif");
        blank();
        line("// The ring slot (userland/include/milk/slot.hpp): u16 tag, u16 length, u32 flags,");
        line("// then the payload.");
        line("#define MILK_KSLOT_SIZE " + std::to_string(slot_size) + "u");
        line("#define MILK_KSLOT_HEADER_SIZE " + std::to_string(slot_header_size) + "u");
        line("#define MILK_KSLOT_PAYLOAD_SIZE " + std::to_string(slot_payload_size) + "u");
        blank();
        line("// The two roles of a contract. `send` in a contract is the client speaking.");
        line("enum milk_kside {");
        line("    MILK_KSIDE_CLIENT = 0,");
        line("    MILK_KSIDE_SERVER = 1");
        line("};");
        blank();
        line("// What the validators return: 0, or the first violation found (negative).");
        line("enum milk_kcode {");
        line("    MILK_KV_OK = 0,");
        line("    MILK_KV_BAD_TAG = -1,          // tag 0, or no message of the contract has it");
        line("    MILK_KV_TAG_NOT_ALLOWED = -2,  // a message the peer may not send in the tracked state");
        line("    MILK_KV_ENDED = -3,            // a message after the protocol reached `end`");
        line("    MILK_KV_BAD_LENGTH = -4,       // the length is not the message's payload size");
        line("    MILK_KV_BAD_FLAGS = -5,        // reserved flags not zero");
        line("    MILK_KV_BAD_BOOL = -6,         // a bool that is neither 0 nor 1");
        line("    MILK_KV_BAD_ENUM = -7,         // an enum value that is not declared");
        line("    MILK_KV_BAD_HANDLE = -8,       // a buffer handle outside the sender's pool");
        line("    MILK_KV_BAD_STATE = -9         // the tracker itself is corrupt (not the peer's doing)");
        line("};");
        blank();
        line("// A `bytes` field on the wire: a region of the channel's exchange heap.");
        line("struct milk_kbytes {");
        line("    milk_ku32 offset;");
        line("    milk_ku32 length;");
        line("};");
        line("MILK_KSTATIC_ASSERT(sizeof(struct milk_kbytes) == " + std::to_string(wire_bytes_size) +
             "u, \"milk_kbytes: 8 bytes on the wire\");");
        blank();
        line("// The sender's pool: the heap offsets [base, base + size) its buffers may use.");
        line("struct milk_kpool {");
        line("    milk_ku64 base;");
        line("    milk_ku64 size;");
        line("};");
        blank();
        line("// The protocol state one endpoint tracks for itself; never shared with the peer.");
        line("struct milk_kstate {");
        line("    milk_ku32 state;  // a <contract>_state_* number");
        line("    milk_ku32 side;   // the enum milk_kside of this endpoint");
        line("};");
        blank();
        line("// What was wrong with a rejected message. The strings are static.");
        line("struct milk_kviolation {");
        line("    int code;                // a MILK_KV_* code");
        line("    milk_ku32 state;         // the tracked state when the message came");
        line("    milk_ku16 tag;           // the tag as received");
        line("    const char *contract;    // \"package.Contract\"");
        line("    const char *state_name;  // the tracked state's name");
        line("    const char *message;     // the message's name, or 0 for an unknown tag");
        line("    const char *field;       // the offending field (\"where.mode\", \"items[].ok\"), or 0");
        line("    milk_ku64 value;         // the offending value; for a handle: offset << 32 | length");
        line("};");
        blank();
        line("static inline const char *milk_kcode_name(int code)");
        line("{");
        line("    switch (code) {");
        line("    case MILK_KV_OK: return \"ok\";");
        line("    case MILK_KV_BAD_TAG: return \"bad tag\";");
        line("    case MILK_KV_TAG_NOT_ALLOWED: return \"message not allowed in this state\";");
        line("    case MILK_KV_ENDED: return \"message after end\";");
        line("    case MILK_KV_BAD_LENGTH: return \"bad length\";");
        line("    case MILK_KV_BAD_FLAGS: return \"reserved flags set\";");
        line("    case MILK_KV_BAD_BOOL: return \"bool neither 0 nor 1\";");
        line("    case MILK_KV_BAD_ENUM: return \"undeclared enum value\";");
        line("    case MILK_KV_BAD_HANDLE: return \"buffer handle out of bounds\";");
        line("    case MILK_KV_BAD_STATE: return \"corrupt protocol tracker\";");
        line("    default: return \"unknown\";");
        line("    }");
        line("}");
        blank();
        line("static inline int milk_kviolate(struct milk_kviolation *out, int code, const char *field,");
        line("                                milk_ku64 value)");
        line("{");
        line("    if (out != 0) {");
        line("        out->code = code;");
        line("        out->field = field;");
        line("        out->value = value;");
        line("    }");
        line("    return code;");
        line("}");
        blank();
        line("// Copies the 64-byte slot with eight volatile 8-byte loads: the only read of");
        line("// shared memory. Everything after looks at the copy, so a peer that rewrites the");
        line("// slot meanwhile cannot change a value between its check and its use.");
        line("static inline void milk_kread_slot(void *copy, const void *slot)");
        line("{");
        line("    const volatile milk_ku64 *words = (const volatile milk_ku64 *)slot;");
        line("    milk_ku64 local[MILK_KSLOT_SIZE / 8u];");
        line("    for (milk_ku32 i = 0; i < MILK_KSLOT_SIZE / 8u; ++i)");
        line("        local[i] = words[i];");
        line("    __builtin_memcpy(copy, local, sizeof local);");
        line("}");
        blank();
        line("// 1 when the handle starts inside the sender's pool and ends within it, computed");
        line("// without overflow: offset 0xFFFFFFF0 with length 0x20 must not wrap around to a");
        line("// small end. There is no \"empty\" handle: every buffer on the wire, even one of");
        line("// length 0, names a block of the sender's pool (the user-space runtime applies");
        line("// the same rule in ExchangeHeapSide::import_buffer).");
        line("static inline int milk_kbytes_ok(const struct milk_kbytes *b, const struct milk_kpool *pool)");
        line("{");
        line("    milk_ku64 offset = b->offset;");
        line("    milk_ku64 length = b->length;");
        line("    if (pool == 0 || offset < pool->base || offset - pool->base >= pool->size)");
        line("        return 0;");
        line("    return length <= pool->size - (offset - pool->base);");
        line("}");
        blank();
        line("// How milk.ko may host a contract's server (milkc computes it from the states).");
        line("enum milk_khosting {");
        line("    MILK_KHOSTING_PER_MESSAGE = 0,  // one step per client message, inline in the doorbell");
        line("    MILK_KHOSTING_THREAD = 1        // only in a thread whose receive may sleep");
        line("};");
        blank();
        line("// A descriptor is a constant of each header that includes it; C++ may read it");
        line("// at compile time (milk.ko's registry checks it against the C++ contract).");
        line("// Marked unused: a file may hold contracts no component serves (a base");
        line("// beside its extension), whose descriptors nothing reads.");
        line("#ifdef __cplusplus");
        line("#define MILK_KDESCRIPTOR [[maybe_unused]] static constexpr");
        line("#else");
        line("#define MILK_KDESCRIPTOR __attribute__((unused)) static const");
        line("#endif");
        blank();
        line("// The leaf fields of a message's payload (nested structs and fixed arrays");
        line("// unrolled): where each value lies and which values are legal. Tools that build");
        line("// or mutate messages from a descriptor alone read them; the validators do not.");
        line("enum milk_kfield_kind {");
        line("    MILK_KFIELD_UNSIGNED = 0,");
        line("    MILK_KFIELD_SIGNED = 1,");
        line("    MILK_KFIELD_BOOL = 2,   // 0 or 1");
        line("    MILK_KFIELD_ENUM = 3,   // one of values[0..value_count)");
        line("    MILK_KFIELD_BYTES = 4,  // a struct milk_kbytes");
        line("    MILK_KFIELD_FLOAT = 5   // IEEE-754 bits");
        line("};");
        line("struct milk_kfield {");
        line("    const char *name;         // \"where.mode\", \"items[2].ok\"");
        line("    milk_ku32 offset;         // from the start of the payload");
        line("    milk_ku32 size;           // 1, 2, 4 or 8");
        line("    milk_ku32 kind;           // enum milk_kfield_kind");
        line("    const milk_ku64 *values;  // an enum's declared values, else 0");
        line("    milk_ku32 value_count;");
        line("};");
        line("struct milk_kmessage {");
        line("    const char *name;");
        line("    milk_ku32 payload_size;");
        line("    milk_ku32 field_count;");
        line("    const struct milk_kfield *fields;  // 0 when field_count is 0");
        line("};");
        blank();
        line("// One contract as milk.ko hosts its server: names, numbers and the stub");
        line("// functions above, reached without knowing the contract's types.");
        line("struct milk_kcontract {");
        line("    const char *name;       // \"package.Contract\"");
        line("    milk_ku32 version;      // the contract's identity: a hash of its normalized form");
        line("    milk_ku32 tag_count;    // tags are 1..tag_count");
        line("    milk_ku32 end_state;    // the state number of `end`");
        line("    milk_ku32 hosting;      // enum milk_khosting");
        line("    milk_ku32 max_handles;  // the most `bytes` fields one client message has");
        line("    void (*init)(struct milk_kstate *st, enum milk_kside side);");
        line("    int (*validate)(struct milk_kstate *st, const void *slot, const struct milk_kpool *pool,");
        line("                    void *message, struct milk_kviolation *out);");
        line("    int (*on_send)(struct milk_kstate *st, milk_ku32 tag);");
        line("    milk_ku32 (*payload_size)(milk_ku32 tag);");
        line("    milk_ku32 (*handles)(const void *message, struct milk_kbytes *out);");
        line("    int (*step)(milk_ku32 state, milk_ku32 sender, milk_ku32 tag, milk_ku32 *next);");
        line("    const struct milk_kmessage *messages;  // [tag - 1], tag_count entries");
        line("};");
        blank();
        line("#elif MILK_KSTUB_COMMON_ABI != " + abi);
        line("#error \"milk stub headers from milkc versions with different shared definitions\"");
        line("#endif  // MILK_KSTUB_COMMON_ABI");
        blank();
    }

    const File& m_file;
    const EmitContext& m_context;
    std::string m_prefix;
    std::string m_out;
};

}  // namespace

std::string emit_kernel(const File& file, const EmitContext& context) { return KernelEmitter(file, context).run(); }

std::string emit_kernel_common(const EmitContext& context) {
    const File none;
    return KernelEmitter(none, context).run_common();
}

}  // namespace milkc
