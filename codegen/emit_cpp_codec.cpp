// The C++ emitter, part 2: per message, milk_message_info(), milk_encode()
// and milk_decode() (found by argument-dependent lookup from
// milk/session.hpp).
//
// Encoding writes every leaf field at its wire offset (layout.hpp), never a
// whole struct: a struct's padding bytes are whatever the sender's memory
// held, and they must not travel to a peer. Decoding reads every value from
// the slot exactly once (the slot may sit in memory the peer can still
// write), checks bools and enum values before they become C++ values, and
// takes ownership of buffers only after all scalar checks passed; any
// violation closes the channel with a reason naming the message and field.
#include "emit_cpp_common.hpp"
#include "layout.hpp"

#include <cstdlib>
#include <utility>

namespace milkc::cpp {

namespace {

// A payload offset: a constant plus `index * stride` for each enclosing loop.
struct Offset {
    std::uint64_t constant = 0;
    std::vector<std::pair<std::string, std::uint64_t>> terms;

    [[nodiscard]] Offset plus(std::uint64_t value) const {
        Offset result = *this;
        result.constant += value;
        return result;
    }
    [[nodiscard]] Offset plus_index(std::string index, std::uint64_t stride) const {
        Offset result = *this;
        result.terms.emplace_back(std::move(index), stride);
        return result;
    }
    [[nodiscard]] std::string text() const {
        std::string result;
        for (const auto& [index, stride] : terms) {
            if (!result.empty()) result += " + ";
            result += index + " * " + std::to_string(stride);
        }
        if (result.empty()) return std::to_string(constant);
        if (constant != 0) result = std::to_string(constant) + " + " + result;
        return result;
    }
};

class CodecEmitter {
public:
    CodecEmitter(std::string& out, const ContractDecl& contract, const Scope& scope)
        : m_out(out), m_contract(contract), m_scope(scope) {}

    void emit(const MessageDecl& message) {
        const RecordLayout layout = layout_of(message);
        emit_info(message, layout);
        emit_encode(message, layout);
        emit_decode(message, layout);
    }

private:
    void emit_info(const MessageDecl& message, const RecordLayout& layout) {
        m_out += "\n// " + message.name + ": tag " + std::to_string(message.tag) + ", payload " +
                 std::to_string(layout.size) + (layout.size == 1 ? " byte.\n" : " bytes.\n");
        m_out += "[[nodiscard]] constexpr milk::session::MessageInfo milk_message_info(std::type_identity<" +
                 message.name + ">) {\n";
        m_out += "    return {" + std::to_string(message.tag) + ", " + std::to_string(layout.size) + ", \"" +
                 message.name + "\"};\n";
        m_out += "}\n";
    }

    void emit_encode(const MessageDecl& message, const RecordLayout& layout) {
        bool has_bytes = false;
        for (const FieldLayout& field : layout.fields) has_bytes = has_bytes || is_bytes(field.field->type);
        const std::string message_parameter = message.fields.empty() ? "/*message*/" : "message";
        const std::string end_parameter = has_bytes ? "end" : "/*end*/";

        m_out += "\n";
        m_out += function_head("[[nodiscard]] inline milk::Result<void> milk_encode",
                               message.name + "&& " + message_parameter + ", milk::ChannelEnd& " + end_parameter +
                                   ", milk::Slot& slot",
                               " {");
        m_out += "    slot.tag = " + std::to_string(message.tag) + ";\n";
        m_out += "    slot.length = " + std::to_string(layout.size) + ";\n";
        for (const FieldLayout& field : layout.fields) {
            if (is_bytes(field.field->type)) continue;
            put("    ", "message." + field.field->name, field.field->type, Offset{}.plus(field.offset), 0);
        }
        // Buffers go last: once one is handed over, nothing else may fail
        // but the handing over of the next.
        for (const FieldLayout& field : layout.fields) {
            if (!is_bytes(field.field->type)) continue;
            m_out += "    MILK_TRY(milk::session::put_bytes(slot, " + std::to_string(field.offset) +
                     ", end, std::move(message." + field.field->name + ")));\n";
        }
        m_out += "    return {};\n";
        m_out += "}\n";
    }

    void emit_decode(const MessageDecl& message, const RecordLayout& layout) {
        m_out += "\n";
        m_out += function_head("[[nodiscard]] inline milk::Result<" + message.name + "> milk_decode",
                               "std::type_identity<" + message.name + ">, const milk::Slot& slot, milk::ChannelEnd& end",
                               " {");
        m_out += "    if (slot.length != " + std::to_string(layout.size) + " || slot.flags != 0) {\n";
        m_out += "        return end.fail({milk::ErrorCode::ProtocolViolation,\n";
        m_out += "                         \"" + m_contract.name + ": " + message.name +
                 " with a wrong payload length or flags\", slot.length});\n";
        m_out += "    }\n";
        if (message.fields.empty()) {
            m_out += "    return " + message.name + "{};\n";
            m_out += "}\n";
            return;
        }
        m_out += "    " + message.name + " message{};\n";
        for (const FieldLayout& field : layout.fields) {
            if (is_bytes(field.field->type)) continue;
            get("    ", "message." + field.field->name, field.field->type, Offset{}.plus(field.offset),
                message.name + "." + field.field->name, 0);
        }
        for (const FieldLayout& field : layout.fields) {
            if (!is_bytes(field.field->type)) continue;
            m_out += "    MILK_TRY(milk::session::get_bytes(slot, " + std::to_string(field.offset) +
                     ", end, message." + field.field->name + "));\n";
        }
        m_out += "    return message;\n";
        m_out += "}\n";
    }

    // Writes `expression` (of `type`) at `offset`.
    void put(const std::string& indent, const std::string& expression, const TypeRef& type, const Offset& offset,
             int depth) {
        if (has_no_padding(type)) {
            // Numbers, bools, enums and arrays of them are copied whole.
            m_out += indent + "slot.put<" + type_name(type, m_scope) + ">(" + offset.text() + ", " + expression +
                     ");\n";
            return;
        }
        if (type.kind == TypeRef::Kind::Array) {
            const std::string index = "i" + std::to_string(depth);
            const TypeLayout element = layout_of(*type.element);
            m_out += indent + "for (std::size_t " + index + " = 0; " + index + " < " +
                     std::to_string(type.array_size) + "; ++" + index + ") {\n";
            put(indent + "    ", expression + "[" + index + "]", *type.element, offset.plus_index(index, element.size),
                depth + 1);
            m_out += indent + "}\n";
            return;
        }
        const RecordLayout layout = layout_of(*type.resolved_struct);
        for (const FieldLayout& field : layout.fields) {
            put(indent, expression + "." + field.field->name, field.field->type, offset.plus(field.offset), depth);
        }
    }

    // Reads `target` (of `type`) from `offset`, validating it; `path` names
    // the field in error messages ("Pong.where.mode").
    void get(const std::string& indent, const std::string& target, const TypeRef& type, const Offset& offset,
             const std::string& path, int depth) {
        if (is_plain_number(type)) {
            m_out += indent + target + " = slot.get<" + type_name(type, m_scope) + ">(" + offset.text() + ");\n";
            return;
        }
        if (type.kind == TypeRef::Kind::Primitive) {  // bool
            checked(indent, target, "std::uint8_t", offset, "raw <= 1", "raw == 1",
                    "bool other than 0 or 1 in " + path, false);
            return;
        }
        if (type.resolved_enum != nullptr) {
            const std::string name = type_name(type, m_scope);
            checked(indent, target, unsigned_name(type.resolved_enum->underlying), offset,
                    "is_valid(static_cast<" + name + ">(raw))", "static_cast<" + name + ">(raw)",
                    "enum " + type.resolved_enum->name + " out of range in " + path,
                    type.resolved_enum->underlying == PrimitiveKind::U64);
            return;
        }
        if (type.kind == TypeRef::Kind::Array) {
            const std::string index = "i" + std::to_string(depth);
            const TypeLayout element = layout_of(*type.element);
            m_out += indent + "for (std::size_t " + index + " = 0; " + index + " < " +
                     std::to_string(type.array_size) + "; ++" + index + ") {\n";
            get(indent + "    ", target + "[" + index + "]", *type.element, offset.plus_index(index, element.size),
                path + "[]", depth + 1);
            m_out += indent + "}\n";
            return;
        }
        const RecordLayout layout = layout_of(*type.resolved_struct);
        for (const FieldLayout& field : layout.fields) {
            get(indent, target + "." + field.field->name, field.field->type, offset.plus(field.offset),
                path + "." + field.field->name, depth);
        }
    }

    // One validated read: the raw value is copied once, checked, converted.
    void checked(const std::string& indent, const std::string& target, const std::string& raw_type,
                 const Offset& offset, const std::string& condition, const std::string& conversion,
                 const std::string& what, bool wide) {
        const std::string detail = wide ? "static_cast<std::int64_t>(raw)" : "raw";
        m_out += indent + "if (const auto raw = slot.get<" + raw_type + ">(" + offset.text() + "); " + condition +
                 ") {\n";
        m_out += indent + "    " + target + " = " + conversion + ";\n";
        m_out += indent + "} else {\n";
        m_out += indent + "    return end.fail({milk::ErrorCode::ProtocolViolation,\n";
        m_out += indent + "                     \"" + m_contract.name + ": " + what + "\", " + detail + "});\n";
        m_out += indent + "}\n";
    }

    static bool has_no_padding(const TypeRef& type) {
        if (type.kind == TypeRef::Kind::Array) return has_no_padding(*type.element);
        return type.kind == TypeRef::Kind::Primitive || type.resolved_enum != nullptr;
    }

    static bool is_bytes(const TypeRef& type) {
        return type.kind == TypeRef::Kind::Primitive && type.primitive == PrimitiveKind::Bytes;
    }

    std::string& m_out;
    const ContractDecl& m_contract;
    const Scope& m_scope;
};

}  // namespace

void emit_codec(std::string& out, const ContractDecl& contract, const Scope& scope) {
    CodecEmitter emitter(out, contract, scope);
    for (const MessageDecl& message : contract.messages) emitter.emit(message);
}

}  // namespace milkc::cpp
