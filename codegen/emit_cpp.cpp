// The C++ emitter: one self-contained header per contract file.
//
// What the header holds, in order (docs/generated-code.md has the why):
//   banner, includes, `namespace <package>`:
//     enums (+ is_valid), structs (+ layout static_asserts),
//     per contract `namespace <Contract>`: message structs, Tag, state tags,
//       wire codec (emit_cpp_codec.cpp), protocol table and endpoints
//       (emit_cpp_endpoints.cpp).
// The output depends only on the tree and the context, so it is
// deterministic; golden tests (tests/generated/) hold it byte for byte.
#include "emit.hpp"
#include "emit_cpp_common.hpp"
#include "emit_util.hpp"
#include "identity.hpp"
#include "layout.hpp"
#include "limits.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>

namespace milkc {

namespace cpp {

std::string primitive_name(PrimitiveKind kind) {
    switch (kind) {
    case PrimitiveKind::Bool: return "bool";
    case PrimitiveKind::U8: return "std::uint8_t";
    case PrimitiveKind::U16: return "std::uint16_t";
    case PrimitiveKind::U32: return "std::uint32_t";
    case PrimitiveKind::U64: return "std::uint64_t";
    case PrimitiveKind::I8: return "std::int8_t";
    case PrimitiveKind::I16: return "std::int16_t";
    case PrimitiveKind::I32: return "std::int32_t";
    case PrimitiveKind::I64: return "std::int64_t";
    case PrimitiveKind::F32: return "float";
    case PrimitiveKind::F64: return "double";
    case PrimitiveKind::Bytes: return "milk::Buffer";
    }
    std::abort();  // Our bug: a PrimitiveKind this switch does not know.
}

std::string unsigned_name(PrimitiveKind kind) {
    switch (kind) {
    case PrimitiveKind::Bool:
    case PrimitiveKind::U8: return "std::uint8_t";
    case PrimitiveKind::U16: return "std::uint16_t";
    case PrimitiveKind::U32: return "std::uint32_t";
    case PrimitiveKind::U64: return "std::uint64_t";
    default: std::abort();  // Caller's bug: only bools and enum underlying types are validated.
    }
}

std::string type_name(const TypeRef& type, const Scope& scope) {
    switch (type.kind) {
    case TypeRef::Kind::Primitive: return primitive_name(type.primitive);
    case TypeRef::Kind::Named: {
        const bool hidden = std::find(scope.hiding_names.begin(), scope.hiding_names.end(), type.name) !=
                            scope.hiding_names.end();
        return hidden ? scope.package_qualifier + "::" + type.name : type.name;
    }
    case TypeRef::Kind::Array:
        return "std::array<" + type_name(*type.element, scope) + ", " + std::to_string(type.array_size) + ">";
    }
    std::abort();  // Our bug: a TypeRef kind this switch does not know.
}

bool is_plain_number(const TypeRef& type) {
    switch (type.kind) {
    case TypeRef::Kind::Primitive: return type.primitive != PrimitiveKind::Bool && type.primitive != PrimitiveKind::Bytes;
    case TypeRef::Kind::Named: return false;
    case TypeRef::Kind::Array: return is_plain_number(*type.element);
    }
    return false;
}

std::string package_namespace(const File& file) {
    std::string name;
    for (const std::string& part : file.package) {
        if (!name.empty()) name += "::";
        name += part;
    }
    return name;
}

std::string function_head(const std::string& head, const std::string& parameters, const std::string& tail) {
    std::string line = head + "(" + parameters + ")" + tail + "\n";
    if (line.size() <= 121) return line;
    return head + "(\n    " + parameters + ")" + tail + "\n";
}

void append_doc(std::string& out, std::string_view indent, const DocComment& doc) {
    emit_util::append_doc_comment(out, indent, doc, emit_util::CommentStyle::Line);
}

bool client_sends(const StateDecl& state) {
    return !state.transitions.empty() && state.transitions.front().direction == Direction::Send;
}

}  // namespace cpp

namespace {

using cpp::append_doc;
using cpp::Scope;

// An unsigned decimal literal that is valid C++ for any u64 value.
std::string literal(std::uint64_t value) {
    std::string text = std::to_string(value);
    // Above INT64_MAX a decimal literal has no signed type to take.
    if (value > 0x7fffffffffffffffULL) text += 'u';
    return text;
}

// Whether a type (transitively) contains an empty struct. C++ gives an empty
// struct size 1 where the wire gives it 0, so such records cannot be
// static_asserted against the wire layout. (The codec never relies on the
// C++ layout: it copies field by field.)
bool contains_empty_struct(const TypeRef& type) {
    switch (type.kind) {
    case TypeRef::Kind::Primitive: return false;
    case TypeRef::Kind::Array: return contains_empty_struct(*type.element);
    case TypeRef::Kind::Named:
        if (type.resolved_struct == nullptr) return false;
        if (type.resolved_struct->fields.empty()) return true;
        return std::any_of(type.resolved_struct->fields.begin(), type.resolved_struct->fields.end(),
                           [](const Field& field) { return contains_empty_struct(field.type); });
    }
    return false;
}

// Field names of a record: a field named like a type hides that type inside
// the record, so the type must be spelled with its namespace there.
std::vector<std::string> field_names(const std::vector<Field>& fields) {
    std::vector<std::string> names;
    for (const Field& field : fields) names.push_back(field.name);
    return names;
}

class Emitter {
public:
    Emitter(const File& file, const EmitContext& context) : m_file(file), m_context(context) {
        m_package = cpp::package_namespace(file);
        m_qualifier = m_package.empty() ? std::string() : "::" + m_package;
    }

    std::string run() {
        m_out += "// " + emit_util::banner_text(m_context) + "\n";
        m_out += "#pragma once\n\n";
        m_out += "#include <milk/channel.hpp>\n";
        m_out += "#include <milk/inproc.hpp>\n";
        m_out += "#include <milk/result.hpp>\n";
        m_out += "#include <milk/session.hpp>\n";
        m_out += "#include <milk/slot.hpp>\n\n";
        m_out += "#include <array>\n";
        m_out += "#include <chrono>\n";
        m_out += "#include <cstddef>\n";
        m_out += "#include <cstdint>\n";
        m_out += "#include <type_traits>\n";
        m_out += "#include <utility>\n";

        m_out += "\n";
        append_doc(m_out, "", m_file.doc);
        if (!m_package.empty()) m_out += "namespace " + m_package + " {\n";

        for (const EnumDecl& decl : m_file.enums) emit_enum(decl);
        for (const StructDecl* decl : structs_in_dependency_order()) emit_struct(*decl);
        for (const ContractDecl& contract : m_file.contracts) emit_contract(contract);

        if (!m_package.empty()) m_out += "\n}  // namespace " + m_package + "\n";
        return std::move(m_out);
    }

private:
    void emit_enum(const EnumDecl& decl) {
        const std::string underlying = cpp::primitive_name(decl.underlying);
        m_out += "\n";
        append_doc(m_out, "", decl.doc);
        m_out += "enum class " + decl.name + " : " + underlying + " {\n";
        for (const EnumMember& member : decl.members) {
            append_doc(m_out, "    ", member.doc);
            m_out += "    " + member.name + " = " + literal(member.value) + ",\n";
        }
        m_out += "};\n\n";
        if (decl.is_flags()) {
            emit_flags_operations(decl, underlying);
            return;
        }
        m_out += "// True when `value` is a declared member of " + decl.name + "; decoders reject every other value.\n";
        m_out += "[[nodiscard]] constexpr bool is_valid(" + decl.name + " value) {\n";
        m_out += "    switch (value) {\n";
        for (const EnumMember& member : decl.members) m_out += "    case " + decl.name + "::" + member.name + ":\n";
        if (!decl.members.empty()) m_out += "        return true;\n";
        m_out += "    }\n";
        m_out += "    return false;\n";
        m_out += "}\n";
    }

    // A flags enum's value is any OR of its flags: the operators that make
    // and test one, and is_valid against the OR of every flag.
    void emit_flags_operations(const EnumDecl& decl, const std::string& underlying) {
        const std::string& name = decl.name;
        const auto cast = [&](const char* value) { return "static_cast<" + underlying + ">(" + std::string(value) + ")"; };
        m_out += "// " + name + " is a set of flags: OR them together, test them with &.\n";
        m_out += "[[nodiscard]] constexpr " + name + " operator|(" + name + " a, " + name + " b) {\n";
        m_out += "    return static_cast<" + name + ">(" + cast("a") + " | " + cast("b") + ");\n";
        m_out += "}\n";
        m_out += "[[nodiscard]] constexpr " + name + " operator&(" + name + " a, " + name + " b) {\n";
        m_out += "    return static_cast<" + name + ">(" + cast("a") + " & " + cast("b") + ");\n";
        m_out += "}\n\n";
        m_out += "// True when `value` has no bit but " + name + "'s flags (no flags at all is valid);\n";
        m_out += "// decoders reject every other value.\n";
        m_out += "[[nodiscard]] constexpr bool is_valid(" + name + " value) {\n";
        m_out += "    return (" + cast("value") + " & ~" + underlying + "{" + literal(decl.mask()) + "}) == 0;\n";
        m_out += "}\n";
    }

    // C++ needs a struct defined before a field uses it; the contract
    // language does not (and recursion is rejected by the checks), so
    // structs are written dependencies first, otherwise in declaration order.
    std::vector<const StructDecl*> structs_in_dependency_order() const {
        std::vector<const StructDecl*> order;
        std::set<const StructDecl*> done;
        for (const StructDecl& decl : m_file.structs) add_with_dependencies(&decl, order, done);
        return order;
    }

    static void add_with_dependencies(const StructDecl* decl, std::vector<const StructDecl*>& order,
                                      std::set<const StructDecl*>& done) {
        if (!done.insert(decl).second) return;
        for (const Field& field : decl->fields) {
            const TypeRef* type = &field.type;
            while (type->kind == TypeRef::Kind::Array) type = type->element.get();
            if (type->resolved_struct != nullptr) add_with_dependencies(type->resolved_struct, order, done);
        }
        order.push_back(decl);
    }

    void emit_struct(const StructDecl& decl) {
        const Scope scope{m_qualifier, field_names(decl.fields)};
        m_out += "\n";
        append_doc(m_out, "", decl.doc);
        m_out += "struct " + decl.name + " {\n";
        for (const Field& field : decl.fields) {
            append_doc(m_out, "    ", field.doc);
            m_out += "    " + cpp::type_name(field.type, scope) + " " + field.name + ";\n";
        }
        m_out += "};\n";

        bool checkable = !decl.fields.empty();
        for (const Field& field : decl.fields) checkable = checkable && !contains_empty_struct(field.type);
        if (!checkable) {
            m_out += "// (No layout static_asserts: C++ gives an empty struct one byte, the wire none.)\n";
            return;
        }
        const RecordLayout layout = layout_of(decl);
        m_out += "static_assert(sizeof(" + decl.name + ") == " + std::to_string(layout.size) + " && alignof(" +
                 decl.name + ") == " + std::to_string(layout.align) + ", \"milk: " + decl.name +
                 " must have its wire layout\");\n";
        for (const FieldLayout& field : layout.fields) {
            m_out += "static_assert(offsetof(" + decl.name + ", " + field.field->name +
                     ") == " + std::to_string(field.offset) + ");\n";
        }
    }

    void emit_contract(const ContractDecl& contract) {
        Scope scope{m_qualifier, {}};
        for (std::string_view name : cpp::contract_scope_names) scope.hiding_names.emplace_back(name);
        for (const MessageDecl& message : contract.messages) scope.hiding_names.push_back(message.name);
        // The codec's loop indices over array fields (i0 for the outermost):
        // one per dimension, and the checks (E0070) allow no more dimensions
        // than the nesting limit.
        for (std::uint32_t depth = 0; depth < limits::max_nesting_depth; ++depth) {
            scope.hiding_names.push_back("i" + std::to_string(depth));
        }

        m_out += "\n";
        append_doc(m_out, "", contract.doc);
        m_out += "namespace " + contract.name + " {\n";

        section("Messages");
        for (const MessageDecl& message : contract.messages) emit_message(message, scope);

        m_out += "\n// Wire tags: 1-based declaration order. Tag 0 is never valid.\n";
        m_out += "enum class Tag : std::uint16_t {\n";
        for (const MessageDecl& message : contract.messages) {
            m_out += "    " + message.name + " = " + std::to_string(message.tag) + ",\n";
        }
        m_out += "};\n";

        m_out += "\n// The states, as tag types for Client<State> and Server<State>; milk_name\n";
        m_out += "// is the state's name in the contract (milk::session::StateMachine).\n";
        m_out += "namespace state {\n";
        for (const StateDecl& state : contract.states) {
            append_doc(m_out, "", state.doc);
            m_out += "struct " + state.name + " {\n";
            m_out += "    static constexpr const char* milk_name = \"" + state.name + "\";\n";
            m_out += "};\n";
        }
        m_out += "}  // namespace state\n";

        section("Wire codec: one slot per message, checked on receipt");
        cpp::emit_codec(m_out, contract, scope);

        section("Protocol table (Boost.Hana)");
        cpp::emit_protocol_table(m_out, contract);

        section("Endpoints");
        cpp::emit_endpoints(m_out, contract, qualified_name(contract), contract_identity(m_file, contract));

        m_out += "\n}  // namespace " + contract.name + "\n";
    }

    void emit_message(const MessageDecl& message, Scope scope) {
        const std::vector<std::string> fields = field_names(message.fields);
        scope.hiding_names.insert(scope.hiding_names.end(), fields.begin(), fields.end());
        m_out += "\n";
        append_doc(m_out, "", message.doc);
        if (message.fields.empty()) {
            m_out += "struct " + message.name + " {};\n";
            return;
        }
        m_out += "struct " + message.name + " {\n";
        for (const Field& field : message.fields) {
            append_doc(m_out, "    ", field.doc);
            m_out += "    " + cpp::type_name(field.type, scope) + " " + field.name + ";\n";
        }
        m_out += "};\n";
    }

    // "package.Contract", as milk.ko and user space name the contract.
    std::string qualified_name(const ContractDecl& contract) const {
        std::string name;
        for (const std::string& part : m_file.package) name += part + ".";
        return name + contract.name;
    }

    void section(std::string_view title) {
        m_out += "\n// ";
        m_out += std::string(75, '-');
        m_out += "\n// ";
        m_out += title;
        m_out += "\n";
    }

    const File& m_file;
    const EmitContext& m_context;
    std::string m_package;
    std::string m_qualifier;
    std::string m_out;
};

}  // namespace

std::string emit_cpp(const File& file, const EmitContext& context) {
    return Emitter(file, context).run();
}

}  // namespace milkc
