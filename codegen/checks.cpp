#include "checks.hpp"
#include "generated_names.hpp"

#include "layout.hpp"
#include "lexer.hpp"
#include "limits.hpp"

#include <algorithm>
#include <map>
#include <iterator>
#include <set>
#include <tuple>
#include <vector>

namespace milkc {

namespace {

// ---- reserved names (E0060) ---------------------------------------------------

// Keywords of C++20 (with the alternative operator spellings) and of C23:
// every name ends up as a C++ and a C identifier.
constexpr std::string_view language_keywords[]{
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
    "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
    "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default",
    "delete", "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float",
    "for", "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not",
    "not_eq", "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register",
    "reinterpret_cast", "requires", "return", "short", "signed", "sizeof", "static", "static_assert",
    "static_cast", "struct", "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while",
    "xor", "xor_eq",
    // C only.
    "restrict", "typeof", "typeof_unqual",
};

// Object-like macros of the C library and of the Linux kernel headers: a
// field named `errno` or `current` would be rewritten by the preprocessor in
// generated C++ or kernel C. (Function-like macros such as `min` are harmless.)
// Also the fixed-width integer types generated code spells: a member named
// `uint32_t` would hide the type inside its struct.
constexpr std::string_view library_names[]{
    "NULL", "EOF", "errno", "stdin", "stdout", "stderr", "linux", "unix", "current", "fallthrough", "noinline",
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
};

template <std::size_t N>
bool contains(const std::string_view (&list)[N], std::string_view name) {
    return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// ---- suggestions --------------------------------------------------------------

// Edit distance counting a swap of two neighbouring letters as one edit
// (optimal string alignment), since `Idel` for `Idle` is a typical typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}


std::string line_of(Location location) { return "line " + std::to_string(location.line); }

// ---- sizes --------------------------------------------------------------------

// Sizes are computed with saturation: a huge array must not wrap around and
// pass for a small one. Anything at the cap is far beyond a slot anyway.
constexpr std::uint64_t size_cap = std::uint64_t{1} << 40;

std::uint64_t saturating_multiply(std::uint64_t a, std::uint64_t b) {
    if (a != 0 && b > size_cap / a) return size_cap;
    return std::min(a * b, size_cap);
}

std::uint64_t align_up(std::uint64_t value, std::uint32_t align) { return (value + align - 1) / align * align; }

// ---- the checker --------------------------------------------------------------

class Checker {
public:
    Checker(File& file, DiagnosticSink& sink) : m_file(&file), m_sink(&sink) {}

    void run() {
        // The other checks' cost grows with the counts (the search for
        // recursive structs recurses once per struct), so they run only on a
        // file within the limits.
        if (!check_counts()) return;
        check_reserved_names();
        collect_types();
        for (EnumDecl& decl : m_file->enums) check_enum(decl);
        for (StructDecl& decl : m_file->structs) check_struct(decl);
        find_recursive_structs();
        check_nesting_depth();
        check_struct_sizes();
        for (ContractDecl& decl : m_file->contracts) check_contract(decl);
    }

private:
    // A state as diagnostics name it: "`Ready`", or for one a sequence
    // implies "`Idle_Open` (the state after `send Open` in `Idle`)".
    [[nodiscard]] static std::string named(const StateDecl& state) {
        return "`" + state.name + "`" + (state.implied_by.empty() ? "" : " (" + state.implied_by + ")");
    }

    void error(DiagnosticCode code, Location location, std::string message, std::string hint = {}) {
        m_sink->error(code, location, std::move(message), std::move(hint));
    }

    // ---- E0071 ----------------------------------------------------------------

    // Reports each count over its limit once, at the first item beyond it.
    // Returns whether all counts are within the limits.
    bool check_counts() {
        struct Count {
            std::string_view what;
            std::uint32_t limit;
            std::uint32_t seen = 0;
            bool reported = false;
        };
        Count declarations{"enums, structs and contracts", limits::max_declarations};
        Count members{"enum members", limits::max_enum_members};
        Count messages{"messages", limits::max_messages};
        Count states{"states", limits::max_states};
        Count transitions{"transitions", limits::max_transitions};
        bool ok = true;
        auto count = [&](Count& counter, Location location) {
            if (++counter.seen <= counter.limit || counter.reported) return;
            counter.reported = true;
            ok = false;
            error(DiagnosticCode::TooMany, location,
                  "this file has more than " + std::to_string(counter.limit) + " " + std::string(counter.what),
                  "milkc limits each file's size so that the generated code always compiles; split the contract "
                  "into several files");
        };
        // Counted in source order per kind; the error points at the first
        // item beyond the limit.
        std::vector<Location> declaration_locations;
        for (const EnumDecl& decl : m_file->enums) {
            declaration_locations.push_back(decl.location);
            for (const EnumMember& member : decl.members) count(members, member.location);
        }
        for (const StructDecl& decl : m_file->structs) declaration_locations.push_back(decl.location);
        for (const ContractDecl& decl : m_file->contracts) {
            declaration_locations.push_back(decl.location);
            for (const MessageDecl& message : decl.messages) count(messages, message.location);
            for (const StateDecl& state : decl.states) {
                count(states, state.location);
                for (const Transition& transition : state.transitions) count(transitions, transition.location);
            }
        }
        std::sort(declaration_locations.begin(), declaration_locations.end(), [](Location a, Location b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        for (Location location : declaration_locations) count(declarations, location);
        return ok;
    }

    // ---- E0060 ----------------------------------------------------------------

    void check_name(std::string_view name, NameRole role, std::string_view what, Location location) {
        std::optional<std::string> reason = reserved_name_reason(name, role);
        if (!reason) return;
        error(DiagnosticCode::ReservedName, location,
              std::string(what) + " `" + std::string(name) + "` is reserved: " + *reason, "choose another name");
    }

    void check_fields(const std::vector<Field>& fields) {
        for (const Field& field : fields) check_name(field.name, NameRole::Field, "field name", field.location);
    }

    void check_reserved_names() {
        for (std::size_t i = 0; i < m_file->package.size(); ++i) {
            check_name(m_file->package[i], i == 0 ? NameRole::FirstPackage : NameRole::Package, "package name",
                       m_file->package_location);
        }
        for (const EnumDecl& decl : m_file->enums) {
            check_name(decl.name, NameRole::Type, "enum name", decl.location);
            for (const EnumMember& member : decl.members) {
                check_name(member.name, NameRole::EnumMember, "enum member name", member.location);
            }
        }
        for (const StructDecl& decl : m_file->structs) {
            check_name(decl.name, NameRole::Type, "struct name", decl.location);
            check_fields(decl.fields);
        }
        for (const ContractDecl& decl : m_file->contracts) {
            check_name(decl.name, NameRole::Type, "contract name", decl.location);
            for (const MessageDecl& message : decl.messages) {
                check_name(message.name, NameRole::Message, "message name", message.location);
                check_fields(message.fields);
            }
            for (const StateDecl& state : decl.states) {
                check_name(state.name, NameRole::State, "state name", state.location);
            }
        }
    }

    // ---- types (E0010, E0020, E0042, E0044) -------------------------------------

    enum class TypeKind : std::uint8_t { Enum, Struct, Contract };

    struct TypeEntry {
        TypeKind kind;
        const void* decl;
        Location location;
    };

    static std::string_view kind_name(TypeKind kind) {
        switch (kind) {
        case TypeKind::Enum: return "an enum";
        case TypeKind::Struct: return "a struct";
        case TypeKind::Contract: return "a contract";
        }
        return "a type";
    }

    void collect_types() {
        struct Declared {
            std::string_view name;
            TypeEntry entry;
        };
        std::vector<Declared> declared;
        for (const EnumDecl& decl : m_file->enums) declared.push_back({decl.name, {TypeKind::Enum, &decl, decl.location}});
        for (const StructDecl& decl : m_file->structs) {
            declared.push_back({decl.name, {TypeKind::Struct, &decl, decl.location}});
        }
        for (const ContractDecl& decl : m_file->contracts) {
            declared.push_back({decl.name, {TypeKind::Contract, &decl, decl.location}});
        }
        // In source order, so that the later declaration is the duplicate.
        // (Two declarations never share a location, so plain sort is stable enough.)
        std::sort(declared.begin(), declared.end(), [](const Declared& a, const Declared& b) {
            return std::tie(a.entry.location.line, a.entry.location.column) <
                   std::tie(b.entry.location.line, b.entry.location.column);
        });
        for (const Declared& item : declared) {
            auto [found, inserted] = m_types.emplace(std::string(item.name), item.entry);
            if (inserted) {
                m_type_names.push_back(item.name);
                continue;
            }
            error(DiagnosticCode::DuplicateType, item.entry.location,
                  "the name `" + std::string(item.name) + "` is already taken by " +
                      std::string(kind_name(found->second.kind)) + " declared at " + line_of(found->second.location),
                  "enums, structs and contracts of one file share one namespace; rename one of them");
        }
    }

    enum class Place : std::uint8_t { MessageField, StructField, ArrayElement };

    // Resolves a field's type in place. False when it (or its element) does
    // not resolve or is not allowed, so that its layout must not be computed.
    bool resolve_type(TypeRef& type, Place place) {
        switch (type.kind) {
        case TypeRef::Kind::Primitive:
            if (type.primitive == PrimitiveKind::Bytes && place != Place::MessageField) {
                error(DiagnosticCode::BytesNotAllowedHere, type.location,
                      place == Place::StructField ? "`bytes` cannot be a field of a struct"
                                                  : "`bytes` cannot be an array element",
                      "a `bytes` buffer is moved, never copied, so only a message can carry one, as a direct field");
                return false;
            }
            return true;
        case TypeRef::Kind::Named: {
            auto found = m_types.find(type.name);
            if (found == m_types.end()) {
                error(DiagnosticCode::UnknownType, type.location, "unknown type `" + type.name + "`",
                      suggest_name(type.name, m_type_names));
                return false;
            }
            switch (found->second.kind) {
            case TypeKind::Enum: type.resolved_enum = static_cast<const EnumDecl*>(found->second.decl); return true;
            case TypeKind::Struct:
                type.resolved_struct = static_cast<const StructDecl*>(found->second.decl);
                return true;
            case TypeKind::Contract:
                error(DiagnosticCode::UnknownType, type.location,
                      "`" + type.name + "` is a contract, not a type a field can have",
                      "a field is a primitive, an enum, a struct, an array of those, or `bytes`");
                return false;
            }
            return false;
        }
        case TypeRef::Kind::Array: {
            bool ok = true;
            if (type.array_size == 0) {
                error(DiagnosticCode::ZeroArraySize, type.location, "an array must have at least one element",
                      "leave the field out, or give the array a size of 1 or more");
                ok = false;
            }
            return resolve_type(*type.element, Place::ArrayElement) && ok;
        }
        }
        return false;
    }

    // Reports fields with the same name (E0011) and resolves their types.
    // Returns whether every field type resolved.
    bool check_record_fields(std::vector<Field>& fields, std::string_view owner, Place place) {
        std::map<std::string_view, const Field*> seen;
        bool resolved = true;
        for (Field& field : fields) {
            auto [found, inserted] = seen.emplace(field.name, &field);
            if (!inserted) {
                error(DiagnosticCode::DuplicateField, field.location,
                      std::string(owner) + " already has a field `" + field.name + "`, at " +
                          line_of(found->second->location));
            }
            if (!resolve_type(field.type, place)) resolved = false;
        }
        return resolved;
    }

    // ---- enums (E0014, E0015, E0041, E0046, E0048) --------------------------------

    void check_enum(EnumDecl& decl) {
        if (decl.members.empty()) {
            error(DiagnosticCode::EmptyEnum, decl.location, "enum `" + decl.name + "` has no members",
                  "a value of an empty enum could never be sent; give it at least one member");
            return;
        }
        std::uint64_t max = layout_of(decl.underlying).size >= 8
                                ? UINT64_MAX
                                : (std::uint64_t{1} << (8 * layout_of(decl.underlying).size)) - 1;
        std::map<std::string_view, const EnumMember*> names;
        std::map<std::uint64_t, const EnumMember*> values;
        for (const EnumMember& member : decl.members) {
            auto [by_name, name_inserted] = names.emplace(member.name, &member);
            if (!name_inserted) {
                error(DiagnosticCode::DuplicateEnumMember, member.location,
                      "enum `" + decl.name + "` already has a member `" + member.name + "`, at " +
                          line_of(by_name->second->location));
                continue;
            }
            if (member.value > max) {
                error(DiagnosticCode::EnumValueOverflow, member.location,
                      "value " + std::to_string(member.value) + " of enum member `" + member.name +
                          "` does not fit the enum's type " + std::string(primitive_name(decl.underlying)) +
                          " (at most " + std::to_string(max) + ")",
                      "use a smaller value, or a wider underlying type");
                continue;
            }
            // A flag is one bit: values are OR-ed together, and a receiver
            // checks a value against the OR of all of them.
            if (decl.is_flags() && (member.value == 0 || (member.value & (member.value - 1)) != 0)) {
                error(DiagnosticCode::FlagNotABit, member.location,
                      "flag `" + member.name + "` of flags enum `" + decl.name + "` has value " +
                          std::to_string(member.value) + ", which is not a single bit",
                      "give each flag one bit (1, 2, 4, 8, ...); a set of flags is their OR, and no flags is 0");
                continue;
            }
            auto [by_value, value_inserted] = values.emplace(member.value, &member);
            if (!value_inserted) {
                error(DiagnosticCode::DuplicateEnumValue, member.location,
                      "enum members `" + by_value->second->name + "` and `" + member.name + "` have the same value " +
                          std::to_string(member.value),
                      "a receiver could not tell them apart; give each member its own value");
            }
        }
    }

    // ---- structs (E0047, E0043, E0040) --------------------------------------------

    void check_struct(StructDecl& decl) {
        if (decl.fields.empty()) {
            error(DiagnosticCode::EmptyStruct, decl.location, "struct `" + decl.name + "` has no fields",
                  "C and C++ disagree on the size of an empty struct; leave it out or give it a field");
            m_unsized_structs.insert(&decl);
            return;
        }
        if (!check_record_fields(decl.fields, "struct `" + decl.name + "`", Place::StructField)) {
            m_unsized_structs.insert(&decl);
        }
    }

    static void struct_dependencies(const TypeRef& type, std::vector<std::pair<const StructDecl*, Location>>& out) {
        if (type.kind == TypeRef::Kind::Array) return struct_dependencies(*type.element, out);
        if (type.resolved_struct != nullptr) out.emplace_back(type.resolved_struct, type.location);
    }

    // Depth-first search for cycles in "struct A has a field of struct B".
    // Each cycle is reported once, at the struct where the search entered it.
    void find_recursive_structs() {
        enum class Mark : std::uint8_t { Unvisited, Active, Done };
        std::map<const StructDecl*, Mark> marks;
        std::vector<const StructDecl*> path;
        auto visit = [&](auto&& self, const StructDecl* decl) -> void {
            marks[decl] = Mark::Active;
            path.push_back(decl);
            for (const Field& field : decl->fields) {
                std::vector<std::pair<const StructDecl*, Location>> dependencies;
                struct_dependencies(field.type, dependencies);
                for (const auto& [dependency, location] : dependencies) {
                    Mark mark = marks[dependency];
                    if (mark == Mark::Unvisited) {
                        self(self, dependency);
                    } else if (mark == Mark::Active) {
                        auto start = std::find(path.begin(), path.end(), dependency);
                        std::string cycle;
                        for (auto member = start; member != path.end(); ++member) {
                            cycle += "`" + (*member)->name + "` -> ";
                            m_recursive_structs.insert(*member);
                        }
                        cycle += "`" + dependency->name + "`";
                        error(DiagnosticCode::RecursiveStruct, location,
                              "struct `" + dependency->name + "` contains itself: " + cycle,
                              "a struct is stored inline, so it cannot contain itself, directly or through "
                              "other structs or arrays");
                    }
                }
            }
            path.pop_back();
            marks[decl] = Mark::Done;
        };
        for (const StructDecl& decl : m_file->structs) {
            if (marks[&decl] == Mark::Unvisited) visit(visit, &decl);
        }
    }

    // ---- E0070 ----------------------------------------------------------------

    // How deep a type nests: one per array dimension and per struct level;
    // 0 for a primitive or an enum. Recursive structs count as 0: E0043
    // reports them.
    std::uint32_t depth_of(const TypeRef& type) {
        switch (type.kind) {
        case TypeRef::Kind::Primitive: return 0;
        case TypeRef::Kind::Array: return 1 + depth_of(*type.element);
        case TypeRef::Kind::Named:
            if (type.resolved_struct == nullptr || m_recursive_structs.count(type.resolved_struct) != 0) return 0;
            return 1 + depth_of_struct(*type.resolved_struct);
        }
        return 0;
    }

    // The deepest field of a struct. Memoised, so that a chain of structs
    // costs linear time and not quadratic; the recursion is at most as deep
    // as the file has structs, which check_counts bounds.
    std::uint32_t depth_of_struct(const StructDecl& decl) {
        auto known = m_struct_depths.find(&decl);
        if (known != m_struct_depths.end()) return known->second;
        std::uint32_t depth = 0;
        for (const Field& field : decl.fields) depth = std::max(depth, depth_of(field.type));
        m_struct_depths.emplace(&decl, depth);
        return depth;
    }

    // A field whose type nests too deep is reported where the limit is first
    // crossed: not again at every field of a struct that contains it.
    void check_field_depths(const std::vector<Field>& fields) {
        for (const Field& field : fields) {
            if (depth_of(field.type) <= limits::max_nesting_depth) continue;
            const TypeRef* inner = &field.type;
            while (inner->kind == TypeRef::Kind::Array) inner = inner->element.get();
            if (inner->resolved_struct != nullptr &&
                depth_of_struct(*inner->resolved_struct) > limits::max_nesting_depth) {
                continue;
            }
            error(DiagnosticCode::NestingTooDeep, field.type.location,
                  "the type of field `" + field.name + "` nests more than " +
                      std::to_string(limits::max_nesting_depth) + " levels deep",
                  "each array dimension and each struct level counts one; flatten the type");
        }
    }

    // Messages are checked with their contract, where their fields resolve.
    void check_nesting_depth() {
        for (const StructDecl& decl : m_file->structs) check_field_depths(decl.fields);
    }

    struct Size {
        std::uint64_t size = 0;
        std::uint32_t align = 1;
    };

    // The inline size of a resolved type; nothing when it has none (it did not
    // resolve, or it contains a recursive, unsized or already too large struct).
    std::optional<Size> size_of(const TypeRef& type) {
        switch (type.kind) {
        case TypeRef::Kind::Primitive: {
            TypeLayout layout = layout_of(type.primitive);
            return Size{layout.size, layout.align};
        }
        case TypeRef::Kind::Named:
            if (type.resolved_enum != nullptr) {
                TypeLayout layout = layout_of(type.resolved_enum->underlying);
                return Size{layout.size, layout.align};
            }
            if (type.resolved_struct != nullptr) return size_of_struct(*type.resolved_struct);
            return std::nullopt;
        case TypeRef::Kind::Array: {
            std::optional<Size> element = size_of(*type.element);
            if (!element) return std::nullopt;
            return Size{saturating_multiply(element->size, type.array_size), element->align};
        }
        }
        return std::nullopt;
    }

    std::optional<Size> size_of_fields(const std::vector<Field>& fields) {
        Size record;
        std::uint64_t offset = 0;
        for (const Field& field : fields) {
            std::optional<Size> size = size_of(field.type);
            if (!size) return std::nullopt;
            offset = std::min(align_up(offset, size->align) + size->size, size_cap);
            record.align = std::max(record.align, size->align);
        }
        record.size = std::min(align_up(offset, record.align), size_cap);
        return record;
    }

    std::optional<Size> size_of_struct(const StructDecl& decl) {
        if (m_unsized_structs.count(&decl) != 0 || m_recursive_structs.count(&decl) != 0 ||
            m_oversized_structs.count(&decl) != 0) {
            return std::nullopt;
        }
        auto known = m_struct_sizes.find(&decl);
        if (known != m_struct_sizes.end()) return known->second;
        std::optional<Size> size = size_of_fields(decl.fields);
        m_struct_sizes.emplace(&decl, size);
        return size;
    }

    // A struct travels only inline in a message, so one larger than a slot's
    // payload can never be sent: reject it where it is declared, once, rather
    // than at every message that uses it. A struct that is too large only
    // because it contains such a struct is not reported again.
    void check_struct_sizes() {
        std::vector<std::pair<const StructDecl*, std::uint64_t>> too_large;
        for (const StructDecl& decl : m_file->structs) {
            std::optional<Size> size = size_of_struct(decl);
            if (size && size->size > slot_payload_size) too_large.emplace_back(&decl, size->size);
        }
        for (const auto& [decl, size] : too_large) m_oversized_structs.insert(decl);
        for (const auto& [decl, size] : too_large) {
            bool inherited = false;
            for (const Field& field : decl->fields) {
                std::vector<std::pair<const StructDecl*, Location>> dependencies;
                struct_dependencies(field.type, dependencies);
                for (const auto& dependency : dependencies) {
                    if (m_oversized_structs.count(dependency.first) != 0) inherited = true;
                }
            }
            if (inherited) continue;
            error(DiagnosticCode::MessageTooLarge, decl->location,
                  "struct `" + decl->name + "` takes " + describe_size(size) + ", more than the " +
                      std::to_string(slot_payload_size) + " bytes of payload a message can carry inline",
                  "no message could carry it; move large data into a `bytes` field of the message");
        }
    }

    static std::string describe_size(std::uint64_t size) {
        if (size >= size_cap) return "more than " + std::to_string(size_cap) + " bytes";
        return std::to_string(size) + " bytes";
    }

    // ---- contracts ------------------------------------------------------------

    void check_contract(ContractDecl& contract) {
        std::map<std::string_view, const MessageDecl*> messages;
        std::vector<std::string_view> message_names;
        for (std::size_t i = 0; i < contract.messages.size(); ++i) {
            MessageDecl& message = contract.messages[i];
            message.tag = static_cast<std::uint16_t>(i + 1);
            auto [found, inserted] = messages.emplace(message.name, &message);
            if (!inserted) {
                error(DiagnosticCode::DuplicateMessage, message.location,
                      "contract `" + contract.name + "` already has a message `" + message.name + "`, at " +
                          line_of(found->second->location));
            } else {
                message_names.push_back(message.name);
            }
            bool resolved = check_record_fields(message.fields, "message `" + message.name + "`", Place::MessageField);
            check_field_depths(message.fields);
            if (resolved) check_message_size(message);
        }

        std::map<std::string_view, const StateDecl*> states;
        std::vector<std::string_view> state_names;
        std::set<const StateDecl*> duplicate_states;
        for (std::size_t i = 0; i < contract.states.size(); ++i) {
            StateDecl& state = contract.states[i];
            state.index = static_cast<std::uint32_t>(i);
            auto [found, inserted] = states.emplace(state.name, &state);
            if (!inserted) {
                // A sequence's state is named for the user, who may have
                // chosen the same name: say where each comes from.
                const StateDecl& first = *found->second;
                std::string message = "contract `" + contract.name + "` already has a state `" + state.name + "`";
                if (!first.implied_by.empty()) message += " (" + first.implied_by + ")";
                message += ", at " + line_of(first.location);
                if (!state.implied_by.empty()) message += "; this one is " + state.implied_by;
                error(DiagnosticCode::DuplicateState, state.location, std::move(message),
                      first.implied_by.empty() && state.implied_by.empty()
                          ? std::string()
                          : "a sequence names the state after each of its steps `<State>_<Message>`; rename the "
                            "declared state");
                duplicate_states.insert(&state);
            } else {
                state_names.push_back(state.name);
            }
        }

        contract.initial = nullptr;
        bool one_initial = true;
        for (const StateDecl& state : contract.states) {
            if (!state.is_initial()) continue;
            if (contract.initial == nullptr) {
                contract.initial = &state;
                continue;
            }
            one_initial = false;
            error(DiagnosticCode::DuplicateInitial, state.location,
                  "contract `" + contract.name + "` has more than one initial state: `" + state.name + "` and `" +
                      contract.initial->name + "` at " + line_of(contract.initial->location),
                  "a new channel starts in exactly one state; keep `initial` on one of them, and mark a state where "
                  "a handed-over endpoint may also start `entry state`");
        }
        if (contract.initial == nullptr) {
            one_initial = false;
            error(DiagnosticCode::MissingInitial, contract.location,
                  "contract `" + contract.name + "` has no initial state",
                  contract.states.empty() ? "declare the state where the protocol starts as `initial state Name { ... }`"
                                          : "mark the state where the protocol starts: `initial state " +
                                                contract.states.front().name + " { ... }`");
        }

        bool targets_resolved = true;
        for (StateDecl& state : contract.states) {
            if (!check_transitions(state, messages, message_names, states, state_names)) targets_resolved = false;
        }

        // With a broken initial state or a dangling transition, "unreachable"
        // would only echo the error already reported.
        if (one_initial && targets_resolved) check_reachability(contract, duplicate_states);
    }

    void check_message_size(const MessageDecl& message) {
        std::optional<Size> size = size_of_fields(message.fields);
        if (!size || size->size <= slot_payload_size) return;
        error(DiagnosticCode::MessageTooLarge, message.location,
              "message `" + message.name + "` takes " + describe_size(size->size) + " inline, more than the " +
                  std::to_string(slot_payload_size) + " bytes of payload a ring slot carries",
              "move large data into a `bytes` field");
    }

    // Returns whether every transition target resolved.
    bool check_transitions(StateDecl& state, const std::map<std::string_view, const MessageDecl*>& messages,
                           const std::vector<std::string_view>& message_names,
                           const std::map<std::string_view, const StateDecl*>& states,
                           const std::vector<std::string_view>& state_names) {
        bool targets_resolved = true;
        bool mixed_reported = false;
        std::map<std::string_view, const Transition*> seen;
        for (Transition& transition : state.transitions) {
            auto message = messages.find(transition.message);
            if (message == messages.end()) {
                error(DiagnosticCode::UnknownMessage, transition.message_location,
                      "unknown message `" + transition.message + "`", suggest_name(transition.message, message_names));
            } else {
                transition.resolved_message = message->second;
            }
            if (!transition.ends()) {
                auto target = states.find(transition.target);
                if (target == states.end()) {
                    targets_resolved = false;
                    std::string hint = suggest_name(transition.target, state_names);
                    error(DiagnosticCode::UnknownState, transition.target_location,
                          "unknown state `" + transition.target + "`",
                          hint.empty() ? "a transition goes to a state of this contract, or to `end`" : hint);
                } else {
                    transition.resolved_target = target->second;
                }
            }
            auto [previous, inserted] = seen.emplace(transition.message, &transition);
            if (!inserted) {
                error(DiagnosticCode::DuplicateTransition, transition.message_location,
                      "state " + named(state) + " already has a transition for message `" + transition.message +
                          "`, at " + line_of(previous->second->location),
                      "a message leads to one next state; the receiver could not know which");
            }
            const Transition& first = state.transitions.front();
            if (!mixed_reported && transition.direction != first.direction) {
                mixed_reported = true;
                error(DiagnosticCode::MixedDirections, transition.location,
                      "state " + named(state) + " has both `send` and `recv` transitions: `" +
                          direction_word(transition.direction) + " " + transition.message + "` here, `" +
                          direction_word(first.direction) + " " + first.message + "` at " + line_of(first.location),
                      "in each state one side speaks; split the state in two");
            }
        }
        return targets_resolved;
    }

    static std::string direction_word(Direction direction) { return direction == Direction::Send ? "send" : "recv"; }

    static bool has_entry(const ContractDecl& contract) {
        for (const StateDecl& state : contract.states) {
            if (state.is_entry()) return true;
        }
        return false;
    }

    void check_reachability(const ContractDecl& contract, const std::set<const StateDecl*>& duplicates) {
        // From the initial state and every entry state: an entry state is
        // where a handed-over endpoint starts.
        std::set<const StateDecl*> reached{contract.initial};
        std::vector<const StateDecl*> work{contract.initial};
        for (const StateDecl& state : contract.states) {
            if (state.is_entry() && reached.insert(&state).second) work.push_back(&state);
        }
        while (!work.empty()) {
            const StateDecl* state = work.back();
            work.pop_back();
            for (const Transition& transition : state->transitions) {
                if (transition.resolved_target != nullptr && reached.insert(transition.resolved_target).second) {
                    work.push_back(transition.resolved_target);
                }
            }
        }
        for (const StateDecl& state : contract.states) {
            if (reached.count(&state) != 0 || duplicates.count(&state) != 0) continue;
            error(DiagnosticCode::UnreachableState, state.location,
                  "state `" + state.name + "` cannot be reached from the initial state `" + contract.initial->name +
                      "`" + (has_entry(contract) ? " or an entry state" : ""),
                  "add a transition that leads to it, or remove it");
        }
    }

    File* m_file;
    DiagnosticSink* m_sink;
    std::map<std::string, TypeEntry, std::less<>> m_types;
    std::vector<std::string_view> m_type_names;
    std::set<const StructDecl*> m_unsized_structs;
    std::set<const StructDecl*> m_recursive_structs;
    std::set<const StructDecl*> m_oversized_structs;
    std::map<const StructDecl*, std::optional<Size>> m_struct_sizes;
    std::map<const StructDecl*, std::uint32_t> m_struct_depths;
};

}  // namespace

// "did you mean `Waiting`?" for the candidate closest to `name`, when one is
// close enough to be a typo; the first declared wins a tie.
std::string suggest_name(std::string_view name, const std::vector<std::string_view>& candidates) {
    // The edit distance costs the product of the lengths: a hostile file of
    // long names must not make milkc spend minutes on suggestions.
    constexpr std::size_t longest_suggested = 64;
    if (name.size() > longest_suggested) return {};
    std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(2, name.size() / 3));
    const std::string_view* best = nullptr;
    std::size_t best_distance = limit + 1;
    for (const std::string_view& candidate : candidates) {
        // The distance is at least the difference in length.
        std::size_t length_difference =
            name.size() > candidate.size() ? name.size() - candidate.size() : candidate.size() - name.size();
        if (length_difference > limit) continue;
        std::size_t distance = edit_distance(name, candidate);
        if (distance < best_distance) {
            best = &candidate;
            best_distance = distance;
        }
    }
    if (best == nullptr) return {};
    return "did you mean `" + std::string(*best) + "`?";
}

std::optional<std::string> reserved_name_reason(std::string_view name, NameRole role) {
    if (contains(language_keywords, name)) return std::string("it is a keyword of C++ or C");
    if (contains(library_names, name)) {
        return std::string("the C library or the Linux kernel headers define it as a macro or type");
    }
    if (name.find("__") != std::string_view::npos || (name.size() >= 2 && name[0] == '_' && name[1] >= 'A' &&
                                                      name[1] <= 'Z')) {
        return std::string("names with `__`, or starting with `_` and a capital letter, belong to the C and C++ "
                           "implementation");
    }
    if ((role == NameRole::Type || role == NameRole::Message) && contains(contract_scope_names, name)) {
        return std::string("milkc generates a declaration of this name in every contract's namespace");
    }
    // States too: each state struct has a member milk_name, which a state of
    // that very name could not have.
    if ((role == NameRole::Type || role == NameRole::Message || role == NameRole::State) &&
        name.starts_with(generated_prefix)) {
        return std::string("names starting with `milk_` are reserved for generated code");
    }
    if (role == NameRole::FirstPackage && name == "std") {
        return std::string("it is the namespace of the C++ standard library");
    }
    return std::nullopt;
}

void check(File& file, DiagnosticSink& sink) { Checker(file, sink).run(); }

}  // namespace milkc
